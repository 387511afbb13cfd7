package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/events"
)

// TestSecretRotateRotatesInTheSandboxesOwnProject: Secret Manager's
// SECRET_ROTATE for a secret of a sandbox the registry records in a
// project of its own (named, as Secret Manager names it, by the
// project's number) rotates that secret there and leaves the secret of
// the same id in coopguard's project alone; the same notification naming
// a project coopguard guards no such sandbox in is acknowledged and
// changes nothing.
func TestSecretRotateRotatesInTheSandboxesOwnProject(t *testing.T) {
	w := newFleetWorld(t)
	ctx := context.Background()
	home := w.cfg.Cloud.GCP.Project
	const project, name = "sandbox-proj-sr", "box-sr"
	mint := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(rw).Encode(map[string]string{"key": "sk-rotated", "key_id": "apikey_rotated"})
	}))
	t.Cleanup(mint.Close)
	w.cfg.Coopguard.Rotation.KeySourceURL = mint.URL + "/mint"
	w.cfg.Coopguard.Rotation.KeySourceCredentialSecret = "fleet-mint"
	w.emu.SecretManager.SeedVersions(home, "fleet-mint", []byte("fleet-mint-credential"))
	if _, err := w.env.Clients.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + home + "/topics/" + w.cfg.Coopguard.Topics.Incidents}); err != nil {
		t.Fatal(err)
	}
	w.record(t, project, name, 4545)
	secret := w.cfg.SandboxSecrets(name)[0]
	there, here := "projects/"+project+"/secrets/"+secret, "projects/"+home+"/secrets/"+secret
	w.emu.SecretManager.SeedVersions(project, secret, []byte("sk-aged-there"))
	w.emu.SecretManager.SeedVersions(home, secret, []byte("sk-aged-here"))
	// Both older than any rotation policy lets a key live.
	for _, full := range []string{there, here} {
		for _, v := range w.emu.SecretManager.Versions(full) {
			w.emu.SecretManager.SetVersionCreateTime(v.GetName(), w.emu.Clock.Now().Add(-400*24*time.Hour))
		}
	}
	// Secret Manager names the secret by its project's number.
	number := strings.Split(w.emu.SecretManager.Versions(there)[0].GetName(), "/")[1]
	rotate := func(id, projectPart string) error {
		full := "projects/" + projectPart + "/secrets/" + secret
		return w.env.RotateKeys(ctx, rotationEvent(t, events.PubSubMessage{MessageID: id, Attributes: map[string]string{
			"eventType": "SECRET_ROTATE", "secretId": full, "dataFormat": "JSON_API_V1", "timestamp": "2026-11-22T06:00:00.123456Z",
		}, Data: []byte(`{"name":"` + full + `","rotation":{"rotationPeriod":"7776000s"}}`)}))
	}
	states := func(full string) []secretmanagerpb.SecretVersion_State {
		var out []secretmanagerpb.SecretVersion_State
		for _, v := range w.emu.SecretManager.Versions(full) {
			out = append(out, v.GetState())
		}
		return out
	}

	// A project coopguard guards no sandbox of that name in: nothing.
	if err := rotate("rotate-stranger", "999999999999"); err != nil {
		t.Fatalf("SECRET_ROTATE naming an unknown project = %v; want it acknowledged", err)
	}
	if n, m := len(states(there)), len(states(here)); n != 1 || m != 1 {
		t.Fatalf("after a SECRET_ROTATE naming an unknown project: %d versions in %s, %d in %s; want 1 and 1 (nothing changed)", n, project, m, home)
	}

	if err := rotate("rotate-there", number); err != nil {
		t.Fatalf("SECRET_ROTATE for %s in %s (number %s) = %v", secret, project, number, err)
	}
	if got := states(there); len(got) != 2 || got[len(got)-1] != secretmanagerpb.SecretVersion_ENABLED {
		t.Errorf("%s after its SECRET_ROTATE: versions %v; want a new ENABLED version added there", there, got)
	}
	if got := states(here); len(got) != 1 || got[0] != secretmanagerpb.SecretVersion_ENABLED {
		t.Errorf("%s after the SECRET_ROTATE for %s's: versions %v; want it untouched", here, project, got)
	}
}
