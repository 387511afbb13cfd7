package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/incident"
)

func resolve(t *testing.T, body string) (int, incident.Report, string) {
	t.Helper()
	code, b := do(t, http.MethodPost, "/Resolve", "application/json", strings.NewReader(body))
	var rep incident.Report
	_ = json.Unmarshal(b, &rep)
	return code, rep, string(b)
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
			startAgents(t, s.world, s.cfg.VM.Name)
			payload := s.alert(t, "monitoring-incident-open.json", `"coopguard-playbook": "contain"`, `"coopguard-playbook": "`+tt.name+`"`)
			if code := postEvent(t, "HandleAlert", binary, payload, nil); code != http.StatusOK {
				t.Fatalf("HandleAlert = %d", code)
			}
			code, rep, body := resolve(t, `{"id":"alert-0.n1m3x8a2b7kq","restore":true,"by":"oncall@example.com"}`)
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
			if !slices.Contains(names, "stop-agents") || !slices.Contains(names, "start-vm") || timeline.Outcome != incident.OutcomeResolved {
				t.Errorf("timeline = %v outcome %s, want containment then restore", names, timeline.Outcome)
			}
		})
	}
}

func TestResolveWithoutRestoreLeavesItContained(t *testing.T) {
	s := newSandbox(t, fastAgentTimeout)
	if code := postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatal(code)
	}
	code, rep, body := resolve(t, `{"id":"alert-0.n1m3x8a2b7kq","by":"me"}`)
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
