package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/functions/rotation"
)

// TestResumeRotatesInTheSandboxesOwnProject: resume's rotation of a
// sandbox recorded in a project of its own renews the secrets there (one
// new ENABLED version, the old one disabled), not a secret of the same
// name in coopguard's project; a sandbox the registry does not hold in
// that project is not rotated (its account is unknown).
func TestResumeRotatesInTheSandboxesOwnProject(t *testing.T) {
	w := newFleetWorld(t)
	ctx := context.Background()
	const project, name = "sandbox-proj-r", "box-r"
	home := w.cfg.Cloud.GCP.Project
	mint := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fleet-mint-credential" {
			http.Error(rw, "bad credential", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(rw).Encode(map[string]string{"key": "sk-renewed", "key_id": "apikey_renewed"})
	}))
	t.Cleanup(mint.Close)
	w.cfg.Coopguard.Rotation.KeySourceURL = mint.URL + "/mint"
	w.cfg.Coopguard.Rotation.KeySourceCredentialSecret = "fleet-mint"
	w.emu.SecretManager.SeedVersions(home, "fleet-mint", []byte("fleet-mint-credential"))

	w.record(t, project, name, 4242)
	secret := w.cfg.SandboxSecrets(name)[0]
	w.emu.SecretManager.SeedVersions(project, secret, []byte("sk-old"))
	since := w.emu.Clock.Now()
	for _, v := range w.emu.SecretManager.Versions("projects/" + project + "/secrets/" + secret) {
		w.emu.SecretManager.SetVersionCreateTime(v.GetName(), since.Add(-time.Hour))
	}

	if _, err := renewSecrets(ctx, w.env, project, name, since, false); err != nil {
		t.Fatalf("renew %s/%s: %v", project, name, err)
	}
	var enabled, disabled int
	for _, v := range w.emu.SecretManager.Versions("projects/" + project + "/secrets/" + secret) {
		switch v.GetState() {
		case secretmanagerpb.SecretVersion_ENABLED:
			enabled++
			if v.GetCreateTime().AsTime().Before(since) {
				t.Errorf("%s: the old version is still enabled", v.GetName())
			}
		case secretmanagerpb.SecretVersion_DISABLED:
			disabled++
		}
	}
	if enabled != 1 || disabled != 1 {
		t.Errorf("%s in %s: %d enabled and %d disabled versions; want the new one enabled, the old disabled", secret, project, enabled, disabled)
	}
	if _, ok := w.emu.SecretManager.Secret("projects/" + home + "/secrets/" + secret); ok {
		t.Errorf("secret %s made or touched in coopguard's project %s", secret, home)
	}

	// Not in the registry there: refused before any version is added.
	const stranger = "box-s"
	other := w.cfg.SandboxSecrets(stranger)[0]
	w.emu.SecretManager.SeedVersions(project, other, []byte("sk-stranger"))
	for _, v := range w.emu.SecretManager.Versions("projects/" + project + "/secrets/" + other) {
		w.emu.SecretManager.SetVersionCreateTime(v.GetName(), since.Add(-time.Hour))
	}
	if _, err := renewSecrets(ctx, w.env, project, stranger, since, false); err == nil {
		t.Errorf("renewed the secrets of %s/%s, which the registry does not hold", project, stranger)
	}
	if n := len(w.emu.SecretManager.Versions("projects/" + project + "/secrets/" + other)); n != 1 {
		t.Errorf("%s has %d versions after a refused renewal; want its 1", other, n)
	}
}

// TestRotationCoversTheSandboxProjects: the scheduled rotation run renews
// the due key of a sandbox the registry records in a project of its own
// there, and reports it with coopguard's own sandbox's secrets.
func TestRotationCoversTheSandboxProjects(t *testing.T) {
	w := newFleetWorld(t)
	ctx := context.Background()
	const project, name = "sandbox-proj-t", "box-t"
	mint := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(rw).Encode(map[string]string{"key": "sk-rotated", "key_id": "apikey_rotated"})
	}))
	t.Cleanup(mint.Close)
	w.cfg.Coopguard.Rotation.KeySourceURL = mint.URL + "/mint"
	w.cfg.Coopguard.Rotation.KeySourceCredentialSecret = "fleet-mint"
	w.emu.SecretManager.SeedVersions(w.cfg.Cloud.GCP.Project, "fleet-mint", []byte("fleet-mint-credential"))
	w.record(t, project, name, 4343)
	secret := w.cfg.SandboxSecrets(name)[0]
	full := "projects/" + project + "/secrets/" + secret
	w.emu.SecretManager.SeedVersions(project, secret, []byte("sk-aged"))
	// Older than any rotation policy lets a key live.
	for _, v := range w.emu.SecretManager.Versions(full) {
		w.emu.SecretManager.SetVersionCreateTime(v.GetName(), w.emu.Clock.Now().Add(-400*24*time.Hour))
	}

	rep, err := RunRotation(ctx, w.env, rotation.Options{Trigger: "scheduler"})
	if rep == nil {
		t.Fatalf("no report: %v", err)
	}
	var reported bool
	for _, s := range rep.Secrets {
		reported = reported || s.Secret == secret
	}
	if !reported {
		t.Errorf("the run's report leaves out %s of %s (err %v)", secret, project, err)
	}
	if n := len(w.emu.SecretManager.Versions(full)); n != 2 {
		t.Errorf("%s has %d versions after the run; want the aged one and a new one (err %v)", full, n, err)
	}
}
