package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator/anthropic"
)

// resumeWorld is a revokeWorld whose key source mints keys at the
// emulated Anthropic, answering each key's id as the contract says.
type resumeWorld struct {
	*revokeWorld
	mu     sync.Mutex
	minted []string // key ids, in order
}

func newResumeWorld(t *testing.T) *resumeWorld {
	t.Helper()
	rw := &resumeWorld{}
	mint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer e2e-MINT-credential" {
			http.Error(w, "bad credential", http.StatusUnauthorized)
			return
		}
		id, value := rw.emu.Anthropic.CreateKey("cloudcoop sandbox (rotated)", "")
		rw.mu.Lock()
		rw.minted = append(rw.minted, id)
		rw.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"key": value, "key_id": id})
	}))
	t.Cleanup(mint.Close)
	s := newSandbox(t, fastAgentTimeout, revokeAtAnthropic, func(c *config.Config) {
		c.Coopguard.Rotation.KeySourceURL = mint.URL + "/mint"
		c.Coopguard.Rotation.KeySourceCredentialSecret = "mint-credential"
	})
	s.emu.SecretManager.SeedVersions(s.cfg.Cloud.GCP.Project, "mint-credential", []byte("e2e-MINT-credential"))
	rw.revokeWorld = adoptRevokeWorld(t, s)
	return rw
}

// contained runs the sample alert's containment to its end (the VM
// TERMINATED on GCP's clock) and returns the incident id.
func (w *resumeWorld) contained(t *testing.T) string {
	t.Helper()
	if code := w.postEvent(t, "HandleAlert", binary, w.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d; logs:\n%s", code, w.logs)
	}
	w.finishFollowUps(t)
	if st := w.instance(t).GetStatus(); st != "TERMINATED" {
		t.Fatalf("after containment the VM is %s, want TERMINATED", st)
	}
	return "alert-0.n1m3x8a2b7kq"
}

func (w *resumeWorld) identityDisabled(t *testing.T) bool {
	t.Helper()
	acct, err := w.operator.IAMAdmin.GetServiceAccount(context.Background(), &adminpb.GetServiceAccountRequest{Name: "projects/-/serviceAccounts/" + w.cfg.Cloud.GCP.ServiceAccount})
	if err != nil {
		t.Fatal(err)
	}
	return acct.GetDisabled()
}

func TestResumeRefusesAnUnexplainedIncidentThenRotatesAndRestores(t *testing.T) {
	t.Parallel()
	w := newResumeWorld(t)
	ctx := context.Background()
	id := w.contained(t)
	if !w.identityDisabled(t) || w.keyStatus() != anthropic.StatusInactive {
		t.Fatalf("containment left identity disabled=%v, key %s", w.identityDisabled(t), w.keyStatus())
	}

	// Unexplained, no --force: refused, and nothing changes.
	before := w.emu.Faults.MutationSnapshot()
	_, err := functions.Resume(ctx, w.env, id, respond.ResumeOptions{By: "local:operator"})
	if !errors.Is(err, respond.ErrRefused) || !strings.Contains(err.Error(), "unexplained") || !strings.Contains(err.Error(), "--note") {
		t.Fatalf("Resume without explanation = %v, want a refusal naming resolve --note and --force", err)
	}
	_, err = functions.Resume(ctx, w.env, id, respond.ResumeOptions{By: "local:operator", Force: true})
	if !errors.Is(err, respond.ErrRefused) || !strings.Contains(err.Error(), "--reason") {
		t.Fatalf("Resume --force without a reason = %v, want a refusal asking for --reason", err)
	}
	if n := resourceMutations(w.emu.Faults.MutationSnapshot()) - resourceMutations(before); n != 0 || len(w.minted) != 0 {
		t.Fatalf("the refused resume made %d mutations and minted %d keys", n, len(w.minted))
	}
	if got := w.versionStates(t); strings.Join(got, ",") != "DISABLED" || w.instance(t).GetStatus() != "TERMINATED" || !w.identityDisabled(t) {
		t.Fatalf("after the refusal: versions %v, VM %s, identity disabled %v", got, w.instance(t).GetStatus(), w.identityDisabled(t))
	}
	if rep := w.incidents(t)[id]; rep.Outcome != incident.OutcomeComplete || !rep.ResumedAt.IsZero() {
		t.Fatalf("the refusal changed the incident: %s resumed at %v", rep.Outcome, rep.ResumedAt)
	}

	// --force with a reason: rotated, restored, the reason recorded.
	const reason = "load test by the agent's owner; cause confirmed by hand"
	rep, err := functions.Resume(ctx, w.env, id, respond.ResumeOptions{By: "local:operator", Force: true, Reason: reason})
	if err != nil {
		t.Fatalf("Resume --force = %v; logs:\n%s", err, w.logs)
	}
	if st := w.instance(t).GetStatus(); st != "RUNNING" {
		t.Errorf("VM = %s, want RUNNING", st)
	}
	if w.identityDisabled(t) {
		t.Error("the sandbox's identity is still disabled")
	}
	if got := w.versionStates(t); strings.Join(got, ",") != "DISABLED,ENABLED" {
		t.Errorf("versions = %v, want the old one DISABLED and only the new one ENABLED", got)
	}
	if len(w.minted) != 1 {
		t.Fatalf("minted %d keys, want 1", len(w.minted))
	}
	if k, _ := w.emu.Anthropic.Key(w.minted[0]); w.keyStatus() != anthropic.StatusInactive || k.Status != anthropic.StatusActive {
		t.Errorf("at Anthropic: old key %s, new key %s; want inactive, active", w.keyStatus(), k.Status)
	}
	// The sandbox reads the new key, and only it.
	sandbox, err := w.emu.ClientsAs(ctx, w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.ServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	secret := "projects/" + w.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key/versions/"
	if _, err := sandbox.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secret + "latest"}); err != nil {
		t.Errorf("the resumed sandbox cannot read its new key: %v", err)
	}
	if _, err := sandbox.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secret + "1"}); err == nil {
		t.Error("the resumed sandbox still reads the old version")
	}
	// Recorded in the incident store, which only coopguard writes.
	rec, err := w.env.Store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.View()
	if got.Outcome != incident.OutcomeResolved || got.ResumeForced != reason || got.ResumedBy != "local:operator" || got.ResumedAt.IsZero() || rep.ResumeForced != reason {
		t.Errorf("stored: outcome %s, forced %q, by %q at %v", got.Outcome, got.ResumeForced, got.ResumedBy, got.ResumedAt)
	}
	for _, a := range []string{"revoke-key", "add-version", "enable-identity", "start-vm"} {
		if action(got, a).Action == "" {
			t.Errorf("the resumed incident's timeline lacks %s", a)
		}
	}
	if action(got, "enable-secrets").Action != "" {
		t.Error("resume re-enabled the disabled versions")
	}

	// Once resumed, again is no change.
	snap := w.emu.Faults.MutationSnapshot()
	if _, err := functions.Resume(ctx, w.env, id, respond.ResumeOptions{By: "local:operator", Force: true, Reason: reason}); err != nil {
		t.Fatal(err)
	}
	if n := resourceMutations(w.emu.Faults.MutationSnapshot()) - resourceMutations(snap); n != 0 || len(w.minted) != 1 {
		t.Errorf("a second resume made %d mutations, minted %d keys", n, len(w.minted))
	}
}

func TestResumeAfterTheCauseIsRecorded(t *testing.T) {
	t.Parallel()
	w := newResumeWorld(t)
	ctx := context.Background()
	id := w.contained(t)
	const cause = "the agent ran a fork bomb from a test fixture; fixture removed"
	if code, rep, body := w.resolve(t, `{"id":"`+id+`","note":"`+cause+`"}`); code != http.StatusOK || rep.Explanation != cause {
		t.Fatalf("Resolve --note = %d %s", code, body)
	}

	// --dry-run: every check passes, and the report says what would be
	// revoked, rotated and restored; nothing changes, nothing is recorded.
	before, stored := w.emu.Faults.MutationSnapshot(), w.incidents(t)[id]
	dry, err := functions.Resume(ctx, w.env, id, respond.ResumeOptions{By: "local:operator", DryRun: true})
	if err != nil {
		t.Fatalf("Resume --dry-run = %v; logs:\n%s", err, w.logs)
	}
	if n := resourceMutations(w.emu.Faults.MutationSnapshot()) - resourceMutations(before); n != 0 || len(w.minted) != 0 {
		t.Errorf("the dry run made %d mutations and minted %d keys", n, len(w.minted))
	}
	if got := w.versionStates(t); strings.Join(got, ",") != "DISABLED" || w.instance(t).GetStatus() != "TERMINATED" || !w.identityDisabled(t) {
		t.Errorf("after the dry run: versions %v, VM %s, identity disabled %v", got, w.instance(t).GetStatus(), w.identityDisabled(t))
	}
	if after := w.incidents(t)[id]; !after.ResumedAt.IsZero() || after.Outcome != stored.Outcome || len(after.Actions) != len(stored.Actions) {
		t.Errorf("the dry run changed the record: %s (was %s), resumed at %v, %d actions (were %d)", after.Outcome, stored.Outcome, after.ResumedAt, len(after.Actions), len(stored.Actions))
	}
	if dry.Outcome != incident.OutcomeDryRun || !dry.ResumedAt.IsZero() {
		t.Errorf("dry run report: outcome %s, resumed at %v", dry.Outcome, dry.ResumedAt)
	}
	planned := dry.Actions[len(stored.Actions):]
	// The key was revoked by the containment: the dry run reads that.
	if got := action(incident.Report{Actions: planned}, "revoke-key"); got.Result != incident.ResultAlready {
		t.Errorf("dry run: revoke-key = %+v, want %s", got, incident.ResultAlready)
	}
	for _, a := range []string{"add-version", "enable-identity", "start-vm"} {
		if got := action(incident.Report{Actions: planned}, a); got.Result != incident.ResultDryRun {
			t.Errorf("dry run: %s = %+v, want %s", a, got, incident.ResultDryRun)
		}
	}

	rep, err := functions.Resume(ctx, w.env, id, respond.ResumeOptions{By: "local:operator"})
	if err != nil {
		t.Fatalf("Resume of an explained incident = %v", err)
	}
	if rep.ResumeForced != "" || rep.Explanation != cause || w.instance(t).GetStatus() != "RUNNING" || w.identityDisabled(t) {
		t.Errorf("resume: forced %q, explanation %q, VM %s, identity disabled %v", rep.ResumeForced, rep.Explanation, w.instance(t).GetStatus(), w.identityDisabled(t))
	}
	if got := w.versionStates(t); strings.Join(got, ",") != "DISABLED,ENABLED" {
		t.Errorf("versions = %v", got)
	}
}
