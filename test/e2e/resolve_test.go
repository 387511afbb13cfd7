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

func resolve(t *testing.T, body string) (int, incident.Report, string) {
	t.Helper()
	return resolveAs(t, body, idToken(oncall))
}

// resolveAs posts body to Resolve with the Authorization header auth.
func resolveAs(t *testing.T, body, auth string) (int, incident.Report, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/Resolve", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	code, b := send(t, req)
	var rep incident.Report
	_ = json.Unmarshal(b, &rep)
	return code, rep, string(b)
}

// idToken is an Authorization header with an ID token for email, shaped
// as Cloud Run passes it on after verifying its signature.
func idToken(email string) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]any{"iss": "https://accounts.google.com", "email": email, "email_verified": true})
	return "Bearer " + enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + ".c2lnbmF0dXJl"
}

// TestResolveCallerIsTheToken: who resolved is the ID token's email; a
// "by" in the body is refused and no token is 401.
func TestResolveCallerIsTheToken(t *testing.T) {
	s := newSandbox(t, fastAgentTimeout)
	// Contained or incomplete, the incident is in the store and resolvable.
	postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil)
	tests := []struct {
		name, body, auth string
		want             int
		says             string
	}{
		{"no token", `{"id":"alert-0.n1m3x8a2b7kq"}`, "", http.StatusUnauthorized, "ID token"},
		{"by in the body", `{"id":"alert-0.n1m3x8a2b7kq","by":"someone-else"}`, idToken(oncall), http.StatusBadRequest, "unknown field"},
		{"token", `{"id":"alert-0.n1m3x8a2b7kq"}`, idToken(oncall), http.StatusOK, `"resolvedBy": "` + oncall + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := resolveAs(t, tt.body, tt.auth)
			if code != tt.want || !strings.Contains(body, tt.says) {
				t.Errorf("= %d %s, want %d saying %q", code, body, tt.want, tt.says)
			}
		})
	}
}

func TestResolveRestoresFalsePositive(t *testing.T) {
	tests := []struct {
		name, from string
	}{
		{"contain", `"coopguard-playbook": "contain"`},
		{"quarantine", `"coopguard-playbook": "quarantine"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSandbox(t)
			ag := startAgents(t, s.world, s.cfg.VM.Name)
			payload := s.alert(t, "monitoring-incident-open.json", `"coopguard-playbook": "contain"`, `"coopguard-playbook": "`+tt.name+`"`)
			if code := postEvent(t, "HandleAlert", binary, payload, nil); code != http.StatusOK {
				t.Fatalf("HandleAlert = %d", code)
			}
			ag.awaitAck(t, s.world, "alert-0.n1m3x8a2b7kq")
			s.finishFollowUps(t)
			code, rep, body := resolve(t, `{"id":"alert-0.n1m3x8a2b7kq","restore":true}`)
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
			timeline := incidents(t)["alert-0.n1m3x8a2b7kq"]
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
	s := newSandbox(t, fastAgentTimeout)
	if code := postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatal(code)
	}
	s.finishFollowUps(t)
	code, rep, body := resolve(t, `{"id":"alert-0.n1m3x8a2b7kq"}`)
	if code != http.StatusOK || rep.Outcome != incident.OutcomeResolved {
		t.Fatalf("Resolve = %d %s", code, body)
	}
	if s.instance(t).GetStatus() != "TERMINATED" || !slices.Equal(s.versionStates(t), []string{"DISABLED"}) {
		t.Error("resolve without --restore changed the sandbox")
	}
}

func TestResolveRefusals(t *testing.T) {
	s := newSandbox(t, fastAgentTimeout)
	if code := postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
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
			code, _, body := resolve(t, tt.body)
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
