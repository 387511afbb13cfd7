package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"

	cgactions "github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator/anthropic"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

// adminKey is the Anthropic Admin API key of the revocation tests; its
// marker is in secretMarkers, so the process output is checked for it too.
const adminKey = "sk-ant-admin01-e2e-ADMINKEY-7f3a9c"

// adminSecret holds it in Secret Manager.
const adminSecret = "coopguard-anthropic-admin"

// revokeAtAnthropic configures revocation through the (emulated) Admin API.
func revokeAtAnthropic(c *config.Config) {
	c.Coopguard.Revoke.Provider = config.RevokeAnthropic
	c.Coopguard.Revoke.CredentialSecret = adminSecret
}

// revokeWorld is a sandbox whose managed key is an Anthropic key coopguard
// can name: its id is recorded for the secret's version 1, as rotation
// records it.
type revokeWorld struct {
	*sandboxWorld
	keyID, keyValue string
}

func newRevokeWorld(t *testing.T) *revokeWorld {
	t.Helper()
	return adoptRevokeWorld(t, newSandbox(t, fastAgentTimeout, revokeAtAnthropic))
}

// adoptRevokeWorld makes s, configured with revokeAtAnthropic, a
// revokeWorld.
func adoptRevokeWorld(t *testing.T, s *sandboxWorld) *revokeWorld {
	t.Helper()
	s.emu.Anthropic.AcceptAdminKey(adminKey)
	s.emu.SecretManager.SeedVersions(s.cfg.Cloud.GCP.Project, adminSecret, []byte(adminKey+"\n"))
	id, value := s.emu.Anthropic.CreateKey("cloudcoop sandbox", "")
	if err := s.env.Store.RecordProviderKey(context.Background(), store.ProviderKey{Secret: "anthropic-api-key", Version: "1", Provider: "anthropic", KeyID: id}); err != nil {
		t.Fatal(err)
	}
	w := &revokeWorld{sandboxWorld: s, keyID: id, keyValue: value}
	t.Cleanup(func() { w.noKeyAnywhere(t) })
	return w
}

// noKeyAnywhere fails if the admin key or the managed key reached a log
// line, a log entry (reports, errors), a Pub/Sub message or a report.
func (w *revokeWorld) noKeyAnywhere(t *testing.T) {
	t.Helper()
	_, status := w.do(t, http.MethodGet, "/Status", "", nil)
	places := map[string]string{"the functions' logs": w.logs.String(), "Status": string(status)}
	for _, e := range w.emu.Logging.AllEntries() {
		places["log entry "+e.GetLogName()] += e.String()
	}
	for i, m := range w.emu.PubSub.Messages() {
		places[fmt.Sprintf("message %d on %s", i, m.Topic)] = string(m.Data) + fmt.Sprint(m.Attributes)
	}
	for where, text := range places {
		for name, key := range map[string]string{"admin key": adminKey, "managed key": w.keyValue, "admin key's tail": adminKey[20:]} {
			if strings.Contains(text, key) {
				t.Errorf("the %s appears in %s", name, where)
			}
		}
	}
}

func (w *revokeWorld) keyStatus() string {
	k, _ := w.emu.Anthropic.Key(w.keyID)
	return k.Status
}

func action(rep incident.Report, name string) incident.ActionResult {
	for _, a := range rep.Actions {
		if a.Action == name {
			return a
		}
	}
	return incident.ActionResult{}
}

func TestRevocationOncePerIncidentAcross100Redeliveries(t *testing.T) {
	t.Parallel()
	w := newRevokeWorld(t)
	payload := w.alert(t, "monitoring-incident-open.json")
	for i := range 100 {
		if code := w.postEvent(t, "HandleAlert", binary, payload, nil); code != http.StatusOK {
			t.Fatalf("delivery %d = %d; logs:\n%s", i+1, code, w.logs)
		}
	}
	if got := w.emu.Anthropic.Revocations(w.keyID); got != 1 {
		t.Errorf("the key was revoked %d times, want once", got)
	}
	// One look and one update: the redeliveries did not even ask.
	if got, gets := w.emu.Faults.Mutations(anthropic.MethodUpdate), w.emu.Faults.Calls(anthropic.MethodGet); got != 1 || gets != 1 {
		t.Errorf("%d update and %d get calls to the Admin API, want 1 each", got, gets)
	}
	if w.keyStatus() != anthropic.StatusInactive {
		t.Errorf("key status = %s, want inactive", w.keyStatus())
	}
	rep := w.incidents(t)["alert-0.n1m3x8a2b7kq"]
	a := action(rep, "revoke-key")
	if rep.Outcome != incident.OutcomeContained || a.Result != incident.ResultDone || !strings.HasPrefix(a.Detail, cgactions.RevokedAtProvider) || !strings.Contains(a.Detail, w.keyID) {
		t.Errorf("outcome %s, revoke-key %s %q", rep.Outcome, a.Result, a.Detail)
	}
}

func TestFailingProviderLeavesIncidentIncompleteAndRedelivered(t *testing.T) {
	t.Parallel()
	w := newRevokeWorld(t)
	// More failures than the retry policy's attempts.
	w.emu.Faults.FailNext(anthropic.MethodUpdate, 50, faults.Fault{Code: codes.Unavailable})
	payload := w.alert(t, "monitoring-incident-open.json")
	if code := w.postEvent(t, "HandleAlert", binary, payload, nil); code/100 != 5 {
		t.Fatalf("first delivery = %d, want 5xx so Pub/Sub redelivers", code)
	}
	rep := w.incidents(t)["alert-0.n1m3x8a2b7kq"]
	if a := action(rep, "revoke-key"); rep.Outcome != incident.OutcomeIncomplete || a.Result != incident.ResultFailed || !strings.Contains(a.Reason, "529") {
		t.Fatalf("outcome %s, revoke-key %s %q", rep.Outcome, a.Result, a.Reason)
	}
	if w.keyStatus() != anthropic.StatusActive {
		t.Fatal("the key changed although every update failed")
	}
	if w.instance(t).GetStatus() != "STOPPING" {
		t.Error("a failing provider held up the VM stop")
	}
	// The provider recovers; the redelivery finishes only what is left.
	w.emu.Faults.Reset()
	if code := w.postEvent(t, "HandleAlert", binary, payload, nil); code != http.StatusOK {
		t.Fatalf("redelivery = %d", code)
	}
	rep = w.incidents(t)["alert-0.n1m3x8a2b7kq"]
	if a := action(rep, "revoke-key"); rep.Outcome != incident.OutcomeContained || a.Result != incident.ResultDone {
		t.Errorf("after redelivery: outcome %s, revoke-key %s %q", rep.Outcome, a.Result, a.Reason)
	}
	if w.emu.Anthropic.Revocations(w.keyID) != 1 || w.keyStatus() != anthropic.StatusInactive {
		t.Errorf("revocations = %d, status %s", w.emu.Anthropic.Revocations(w.keyID), w.keyStatus())
	}
	if n := resourceMutations(w.emu.Faults.MutationSnapshot()) - w.emu.Faults.Mutations(anthropic.MethodUpdate); n != 0 {
		t.Errorf("the redelivery repeated %d finished mutations", n)
	}
}

func TestRestoreNeverReenablesARevokedKey(t *testing.T) {
	t.Parallel()
	w := newRevokeWorld(t)
	if code := w.postEvent(t, "HandleAlert", binary, w.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d", code)
	}
	w.finishFollowUps(t)
	code, _, body := w.resolve(t, `{"id":"alert-0.n1m3x8a2b7kq","restore":true}`)
	if code == http.StatusOK || !strings.Contains(body, "rotate first (coopguard rotate), then restore") {
		t.Fatalf("Resolve --restore = %d %s, want a refusal telling to rotate first", code, body)
	}
	if w.keyStatus() != anthropic.StatusInactive || w.versionStates(t)[0] != "DISABLED" {
		t.Fatalf("the refused restore changed the key: %s %v", w.keyStatus(), w.versionStates(t))
	}
	// The operator rotates (a new version), then restores: the VM comes
	// back with the new key; the revoked one stays revoked and disabled.
	if _, err := w.operator.Secrets.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: "projects/" + w.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key", Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-rotated")},
	}); err != nil {
		t.Fatal(err)
	}
	code, rep, body := w.resolve(t, `{"id":"alert-0.n1m3x8a2b7kq","restore":true}`)
	if code != http.StatusOK || rep.Outcome != incident.OutcomeResolved {
		t.Fatalf("Resolve --restore after rotation = %d %s", code, body)
	}
	if got := w.versionStates(t); got[0] != "DISABLED" || got[1] != "ENABLED" || w.keyStatus() != anthropic.StatusInactive {
		t.Errorf("after restore: versions %v, key %s", got, w.keyStatus())
	}
	if w.instance(t).GetStatus() != "RUNNING" {
		t.Errorf("VM = %s, want RUNNING", w.instance(t).GetStatus())
	}
}
