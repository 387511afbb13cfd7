package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// oncall is the caller of resolve: the email in the ID token that Cloud
// Run verified before passing the request on.
const oncall = "oncall@example.com"

func (w *world) resolve(t *testing.T, body string) (int, incident.Report, string) {
	t.Helper()
	return w.resolveAs(t, body, idToken(oncall))
}

// resolveAs posts body to Resolve with the Authorization header auth.
func (w *world) resolveAs(t *testing.T, body, auth string) (int, incident.Report, string) {
	t.Helper()
	return w.resolveWith(t, body, map[string]string{"Authorization": auth})
}

// resolveWith posts body to Resolve with the non-empty headers given.
func (w *world) resolveWith(t *testing.T, body string, headers map[string]string) (int, incident.Report, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.url+"/Resolve", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	code, b := send(t, req)
	var rep incident.Report
	_ = json.Unmarshal(b, &rep)
	return code, rep, string(b)
}

// idToken is an Authorization header with an ID token for email, shaped
// as Cloud Run passes it on after verifying its signature: the signature
// replaced by SIGNATURE_REMOVED_BY_GOOGLE
// (https://cloud.google.com/run/docs/troubleshooting#signature-removed).
func idToken(email string) string {
	return signedToken(email, "SIGNATURE_REMOVED_BY_GOOGLE")
}

// signedToken is an Authorization header with an ID token for email
// whose third part is signature.
func signedToken(email, signature string) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]any{"iss": "https://accounts.google.com", "email": email, "email_verified": true})
	return "Bearer " + enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + "." + signature
}

// TestResolveCallerIsTheToken: who resolved is the email of the ID token
// Cloud Run verified; a "by" in the body is refused, no token is 401, and
// so is a token Cloud Run did not verify (signature still there) or an
// Authorization header Cloud Run passed on untouched because it checked
// X-Serverless-Authorization instead.
func TestResolveCallerIsTheToken(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	// Contained or incomplete, the incident is in the store and resolvable.
	s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil)
	const id = `{"id":"alert-0.n1m3x8a2b7kq"}`
	tests := []struct {
		name, body, auth, serverless string
		want                         int
		says                         string
	}{
		{"no token", id, "", "", http.StatusUnauthorized, "ID token"},
		{"by in the body", `{"id":"alert-0.n1m3x8a2b7kq","by":"someone-else"}`, idToken(oncall), "", http.StatusBadRequest, "unknown field"},
		{"unverified signature", id, signedToken("ceo@example.com", "c2lnbmF0dXJl"), "", http.StatusUnauthorized, "not verified by Cloud Run"},
		{"access token checked, forged Authorization", id, idToken("ceo@example.com"), "Bearer ya29.access-token", http.StatusUnauthorized, "no ID token in X-Serverless-Authorization"},
		{"X-Serverless-Authorization names the caller", id, idToken("ceo@example.com"), idToken(oncall), http.StatusOK, `"resolvedBy": "` + oncall + `"`},
		{"token", id, idToken(oncall), "", http.StatusOK, `"resolvedBy": "` + oncall + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := s.resolveWith(t, tt.body, map[string]string{"Authorization": tt.auth, "X-Serverless-Authorization": tt.serverless})
			if code != tt.want || !strings.Contains(body, tt.says) {
				t.Errorf("= %d %s, want %d saying %q", code, body, tt.want, tt.says)
			}
		})
	}
}

func TestResolveRestoresFalsePositive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, from string
	}{
		{"contain", `"coopguard-playbook": "contain"`},
		{"quarantine", `"coopguard-playbook": "quarantine"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			ag := startAgents(t, s.world, s.cfg.VM.Name)
			payload := s.alert(t, "monitoring-incident-open.json", `"coopguard-playbook": "contain"`, `"coopguard-playbook": "`+tt.name+`"`)
			if code := s.postEvent(t, "HandleAlert", binary, payload, nil); code != http.StatusOK {
				t.Fatalf("HandleAlert = %d", code)
			}
			ag.awaitAck(t, s.world, "alert-0.n1m3x8a2b7kq")
			s.finishFollowUps(t)
			code, rep, body := s.resolve(t, `{"id":"alert-0.n1m3x8a2b7kq","restore":true}`)
			if code != http.StatusOK {
				t.Fatalf("Resolve = %d %s", code, body)
			}
			if rep.Outcome != incident.OutcomeResolved || rep.ResolvedBy != "oncall@example.com" || rep.ResolvedAt.IsZero() {
				t.Errorf("report = %+v", rep)
			}
			inst := s.instance(t)
			if inst.GetStatus() != "RUNNING" || slices.Contains(inst.GetTags().GetItems(), "coopguard-quarantine") || inst.GetLabels()["coopguard-incident"] != "" {
				t.Errorf("VM after restore: %s tags %v labels %v", inst.GetStatus(), inst.GetTags().GetItems(), inst.GetLabels())
			}
			for _, it := range inst.GetMetadata().GetItems() {
				if it.GetKey() == "coopguard-agents" && it.GetValue() != "run" {
					t.Errorf("coopguard-agents = %s, want run", it.GetValue())
				}
			}
			if got := s.versionStates(t); !slices.Equal(got, []string{"ENABLED"}) {
				t.Errorf("versions = %v, want the disabled one re-enabled", got)
			}
			timeline := s.incidents(t)["alert-0.n1m3x8a2b7kq"]
			var names []string
			for _, a := range timeline.Actions {
				names = append(names, a.Action)
			}
			// Restore undoes only what the incident did: quarantine left the
			// VM running, so it starts nothing.
			stopped := tt.name == "contain"
			if !slices.Contains(names, "stop-agents") || !slices.Contains(names, "enable-secrets") || slices.Contains(names, "start-vm") != stopped || timeline.Outcome != incident.OutcomeResolved {
				t.Errorf("timeline = %v outcome %s, want containment then restore (start-vm: %v)", names, timeline.Outcome, stopped)
			}
		})
	}
}

func TestResolveWithoutRestoreLeavesItContained(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	if code := s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatal(code)
	}
	s.finishFollowUps(t)
	code, rep, body := s.resolve(t, `{"id":"alert-0.n1m3x8a2b7kq"}`)
	if code != http.StatusOK || rep.Outcome != incident.OutcomeResolved {
		t.Fatalf("Resolve = %d %s", code, body)
	}
	if s.instance(t).GetStatus() != "TERMINATED" || !slices.Equal(s.versionStates(t), []string{"DISABLED"}) {
		t.Error("resolve without --restore changed the sandbox")
	}
}

func TestResolveRefusals(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	if code := s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatal(code)
	}
	s.finishFollowUps(t)
	// A rotation after the incident: the new key is live, the old one must
	// stay disabled.
	if _, err := s.operator.Secrets.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
		Parent:  "projects/" + s.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key",
		Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-rotated")},
	}); err != nil {
		t.Fatal(err)
	}
	before := resourceMutations(s.emu.Faults.MutationSnapshot())
	tests := []struct {
		name, body, says string
		want             int
	}{
		{"unknown incident", `{"id":"alert-nope","restore":true}`, "not a coopguard incident", http.StatusConflict},
		{"rotation since", `{"id":"alert-0.n1m3x8a2b7kq","restore":true}`, "rotation has happened since", http.StatusConflict},
		{"no id", `{"restore":true}`, "required", http.StatusBadRequest},
		{"unknown field", `{"id":"x","restroe":true}`, "unknown field", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := s.resolve(t, tt.body)
			if code != tt.want || !strings.Contains(body, tt.says) {
				t.Errorf("= %d %s, want %d saying %q", code, body, tt.want, tt.says)
			}
		})
	}
	if d := resourceMutations(s.emu.Faults.MutationSnapshot()) - before; d != 0 {
		t.Errorf("refused resolves made %d mutating calls", d)
	}
	if s.instance(t).GetStatus() != "TERMINATED" {
		t.Error("refused resolve started the VM")
	}
}
