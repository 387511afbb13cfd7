package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

// sandboxWorld is a world whose sandbox has been provisioned.
type sandboxWorld struct {
	*world
	vmID string
}

func newSandbox(t *testing.T, mutate ...func(*config.Config)) *sandboxWorld {
	t.Helper()
	w := newWorld(t, mutate...)
	if code, rep := w.provision(t, ""); code != http.StatusOK {
		t.Fatalf("provision = %d: %+v", code, rep.Failed())
	}
	inst, ok := w.emu.Compute.Instance(w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone, w.cfg.VM.Name)
	if !ok {
		t.Fatal("no sandbox VM after provision")
	}
	return &sandboxWorld{world: w, vmID: strconv.FormatUint(inst.GetId(), 10)}
}

// fastAgentTimeout is for tests that run no watcher: the responder gives
// up waiting for its confirmation quickly.
func fastAgentTimeout(c *config.Config) {
	c.Coopguard.AgentStopTimeout = config.Duration{Duration: 50 * time.Millisecond}
}

// alert is the sample open incident about this world's VM.
func (s *sandboxWorld) alert(t *testing.T, file string, replace ...string) []byte {
	t.Helper()
	return sample(t, file, append([]string{"coopguard-demo", s.cfg.Cloud.GCP.Project, "4410915023349531000", s.vmID,
		`"coopguard sandbox CPU"`, strconv.Quote(provisioner.AlertPolicyName(s.cfg.VM.Name))}, replace...)...)
}

func (s *sandboxWorld) instance(t *testing.T) *computepb.Instance {
	t.Helper()
	inst, _ := s.emu.Compute.Instance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, s.cfg.VM.Name)
	return inst
}

func (s *sandboxWorld) versionStates(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, v := range s.emu.SecretManager.Versions("projects/" + s.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key") {
		out = append(out, v.GetState().String())
	}
	return out
}

// incidents returns the reports Status lists.
func (w *world) incidents(t *testing.T) map[string]incident.Report {
	t.Helper()
	code, b := w.do(t, http.MethodGet, "/Status", "", nil)
	if code != http.StatusOK {
		t.Fatalf("Status = %d %s", code, b)
	}
	var st functions.StatusReport
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]incident.Report{}
	for _, r := range st.Incidents {
		out[r.Incident.ID] = r
	}
	return out
}

// TestAlertContainsSandbox is issue 19's proof on GCP's operation times (a
// stop 90 s, a snapshot 3 min, on the emulated clock): HandleAlert answers
// 2xx within seconds with egress cut, every key version disabled and the
// VM's stop requested — the VM still STOPPING, the incident contained —
// and the Scheduler's FinishIncidents passes carry the rest: the VM
// TERMINATED, the snapshot READY, the evidence read, every pass answered
// 2xx, the incident complete.
func TestAlertContainsSandbox(t *testing.T) {
	t.Parallel()
	for _, mode := range []ceMode{binary, structured} {
		t.Run([]string{"binary", "structured"}[mode], func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			ag := startAgents(t, s.world, s.cfg.VM.Name)
			// A second version, so "every enabled version" means more than one.
			if _, err := s.operator.Secrets.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
				Parent: "projects/" + s.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key", Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-2")},
			}); err != nil {
				t.Fatal(err)
			}
			sent := s.emu.Clock.Now()
			if code := s.postEvent(t, "HandleAlert", mode, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
				t.Fatalf("HandleAlert = %d, logs:\n%s", code, s.logs)
			}
			if took := s.emu.Clock.Now().Sub(sent); took > 10*time.Second {
				t.Errorf("HandleAlert answered after %v on the emulated clock, want within seconds", took)
			}
			inst := s.instance(t)
			if inst.GetStatus() != "STOPPING" {
				t.Errorf("VM status at the answer = %s, want STOPPING (the stop requested, nobody waiting for it)", inst.GetStatus())
			}
			if !slices.Contains(inst.GetTags().GetItems(), config.QuarantineTag) {
				t.Errorf("tags at the answer = %v, want %s", inst.GetTags().GetItems(), config.QuarantineTag)
			}
			if got := s.versionStates(t); !slices.Equal(got, []string{"DISABLED", "DISABLED"}) {
				t.Errorf("versions at the answer = %v, want all DISABLED", got)
			}
			if !strings.HasPrefix(inst.GetLabels()["coopguard-incident"], "alert-0-n1m3x8a2b7kq") {
				t.Errorf("labels = %v, want coopguard-incident", inst.GetLabels())
			}
			if rep := s.incidents(t)["alert-0.n1m3x8a2b7kq"]; rep.Outcome != incident.OutcomeContained || rep.FollowUp != incident.FollowUpRunning {
				t.Errorf("at the answer the incident is %s, follow-up %q; want contained and running", rep.Outcome, rep.FollowUp)
			}
			if n := len(s.emu.Compute.Snapshots(s.cfg.Cloud.GCP.Project)); n != 0 {
				t.Errorf("%d snapshots at the answer, want none yet (the VM is still stopping)", n)
			}

			// The VM's stop gives the watcher 90 s to answer the flag.
			ag.awaitAck(t, s.world, "alert-0.n1m3x8a2b7kq")
			passes := s.finishFollowUps(t)
			if got := s.instance(t).GetStatus(); got != "TERMINATED" {
				t.Errorf("VM status after the follow-up = %s, want TERMINATED", got)
			}
			if n := len(s.emu.Compute.Snapshots(s.cfg.Cloud.GCP.Project)); n != 1 {
				t.Errorf("%d snapshots, want 1", n)
			}
			rep, ok := s.incidents(t)["alert-0.n1m3x8a2b7kq"]
			if !ok {
				t.Fatalf("incident missing from Status; logs:\n%s", s.logs)
			}
			if rep.Outcome != incident.OutcomeComplete || rep.FollowUp != incident.FollowUpDone || rep.Incident.Playbook != "contain" || rep.Instance != s.cfg.VM.Name {
				t.Errorf("after %d follow-up passes: report = %+v", passes, rep)
			}
			if rep.Evidence == nil || rep.Evidence.Audit == nil {
				t.Errorf("no evidence in the complete report: %+v", rep.Evidence)
			}
			results := map[string]string{}
			for _, a := range rep.Actions {
				results[a.Action] = a.Result
			}
			for _, a := range []string{"label-incident", "quarantine-tag", "stop-agents", "disable-secrets", "stop-vm", "agents-ack", "vm-terminated", "snapshot-disk", "collect-logs"} {
				if results[a] != incident.ResultDone {
					t.Errorf("action %s = %q, want done (all: %+v)", a, results[a], rep.Actions)
				}
			}
			for _, a := range rep.Actions {
				// The VM's word is never confirmation: either it reported
				// (unverified) or it stopped first.
				if a.Action == "agents-ack" && (strings.Contains(a.Detail, "confirmed") ||
					!strings.Contains(a.Detail, "reported by the VM (unverified): stopped alert-0.n1m3x8a2b7kq") && !strings.Contains(a.Detail, "the VM stopped before it reported")) {
					t.Errorf("agents-ack detail = %q, want the VM's unverified report or its stop", a.Detail)
				}
			}
			if n := len(s.emu.Logging.Entries("projects/" + s.cfg.Cloud.GCP.Project + "/logs/coopguard-incidents")); n != 2 {
				t.Errorf("%d reports in Cloud Logging, want 2 (contained, complete)", n)
			}
			var published bool
			for _, m := range s.emu.PubSub.Messages() {
				if strings.HasSuffix(m.Topic, "/coopguard-incidents") && m.Attributes["incident"] == "alert-0.n1m3x8a2b7kq" {
					published = true
				}
			}
			if !published {
				t.Error("report not published to coopguard-incidents")
			}
			if strings.Contains(s.logs.String(), "SECRET-PAYLOAD") {
				t.Error("a secret payload reached the logs")
			}
		})
	}
}

func TestQuarantinePlaybookKeepsVMUp(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	ag := startAgents(t, s.world, s.cfg.VM.Name)
	payload := s.alert(t, "monitoring-incident-open.json", `"coopguard-playbook": "contain"`, `"coopguard-playbook": "quarantine"`)
	if code := s.postEvent(t, "HandleAlert", structured, payload, nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d\n%s", code, s.logs)
	}
	// The VM stays up, so the watcher stops the agents and says so; its
	// report names the incident and is shown, by the follow-up, as the
	// VM's word.
	ag.awaitAck(t, s.world, "alert-0.n1m3x8a2b7kq")
	s.finishFollowUps(t)
	for _, sess := range ag.sessions {
		if ag.alive(t, sess) {
			t.Errorf("tmux session %s still running", sess)
		}
	}
	// Outside tmux too: the agent users' processes and the containers.
	if _, err := exec.LookPath("docker"); err == nil && len(ag.docker.Running()) != 0 {
		t.Errorf("containers %v still running", ag.docker.Running())
	}
	if ag.root {
		waitFor(t, "the agent process outside tmux ended", func() bool { return !ag.strayAlive() })
		if !ag.operatorAlive() {
			t.Error("the watcher killed root's tmux server, which is no agent user's")
		}
	}
	for _, a := range s.incidents(t)["alert-0.n1m3x8a2b7kq"].Actions {
		if a.Action == "agents-ack" && !strings.Contains(a.Detail, "reported by the VM (unverified): stopped alert-0.n1m3x8a2b7kq ") {
			t.Errorf("agents-ack detail = %q, want the VM's unverified report naming the incident", a.Detail)
		}
	}
	inst := s.instance(t)
	if inst.GetStatus() != "RUNNING" || !slices.Contains(inst.GetTags().GetItems(), "coopguard-quarantine") {
		t.Errorf("VM = %s tags %v, want RUNNING with coopguard-quarantine", inst.GetStatus(), inst.GetTags().GetItems())
	}
	if got := s.versionStates(t); !slices.Equal(got, []string{"DISABLED"}) {
		t.Errorf("versions = %v", got)
	}
}

func TestAlertsThatDoNothing(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	foreign := s.emu.Compute.SeedInstance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, &computepb.Instance{Name: proto.String("prod-db"), Labels: map[string]string{"team": "prod"}})
	foreignID := strconv.FormatUint(foreign.GetId(), 10)
	open := string(s.alert(t, "monitoring-incident-open.json"))
	policy := strconv.Quote(provisioner.AlertPolicyName(s.cfg.VM.Name))
	// with renames the incident to id and makes the replacements old→new.
	with := func(id string, oldNew ...string) string {
		return strings.NewReplacer(append([]string{"0.n1m3x8a2b7kq", id}, oldNew...)...).Replace(open)
	}
	tests := []struct {
		name    string
		payload string
		raw     []byte // a raw CloudEvent data body instead of an envelope
		refused string // incident id expected as refused in Status
		ignored string // incident id expected nowhere in Status
	}{
		{name: "closed incident", payload: string(s.alert(t, "monitoring-incident-closed.json"))},
		{name: "test notification", payload: string(sample(t, "monitoring-test-notification.json"))},
		{name: "foreign instance", payload: with("foreign-1", s.vmID, foreignID), ignored: "alert-foreign-1"},
		{name: "other project", payload: with("other-proj", `"project_id": "coopguard-local"`, `"project_id": "prod-project-1"`), ignored: "alert-other-proj"},
		{name: "unknown instance", payload: with("ghost", s.vmID, "12345"), ignored: "alert-ghost"},
		// Policies someone else made and pointed at coopguard's channel
		// used to contain the VM they named.
		{name: "policy not coopguard's", payload: with("theirs", policy, `"prod CPU high"`), ignored: "alert-theirs"},
		{name: "another sandbox's policy", payload: with("sbx2-policy", policy, `"coopguard sbx2 CPU"`), ignored: "alert-sbx2-policy"},
		{name: "labelled for another sandbox", payload: with("relabelled", `"coopguard-playbook": "contain"`, `"coopguard-playbook": "contain", "coopguard-sandbox": "sbx2"`), ignored: "alert-relabelled"},
		{name: "not a VM", payload: with("a-bucket", `"type": "gce_instance"`, `"type": "gcs_bucket"`), ignored: "alert-a-bucket"},
		{name: "not JSON", payload: "not json at all"},
		{name: "missing incident", payload: `{"version":"1.2"}`},
		{name: "empty", payload: ""},
		{name: "bad base64 envelope", raw: []byte(`{"message":{"data":"%%%not-base64","messageId":"1"}}`)},
		{name: "no message", raw: []byte(`{"subscription":"x"}`)},
		{name: "envelope not JSON", raw: []byte(`<xml/>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := resourceMutations(s.emu.Faults.MutationSnapshot())
			var code int
			if tt.raw != nil {
				code = s.postEnvelope(t, "HandleAlert", binary, tt.raw, "raw-"+tt.name)
			} else {
				code = s.postEvent(t, "HandleAlert", binary, []byte(tt.payload), nil)
			}
			if code/100 != 2 {
				t.Errorf("HandleAlert = %d, want 2xx (acknowledged)", code)
			}
			if d := resourceMutations(s.emu.Faults.MutationSnapshot()) - before; d != 0 {
				t.Errorf("%d mutating calls: %v", d, s.emu.Faults.MutationSnapshot())
			}
			if tt.refused != "" {
				rep, ok := s.incidents(t)[tt.refused]
				if !ok || rep.Outcome != incident.OutcomeRefused || rep.Reason == "" {
					t.Errorf("report = %+v, want refused with a reason", rep)
				}
			}
			if rep, ok := s.incidents(t)[tt.ignored]; tt.ignored != "" && ok {
				t.Errorf("report = %+v, want none: not coopguard's policy for that sandbox", rep)
			}
		})
	}
	if s.instance(t).GetStatus() != "RUNNING" {
		t.Error("sandbox was stopped")
	}
	if inst, _ := s.emu.Compute.Instance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, "prod-db"); inst.GetStatus() != "RUNNING" || len(inst.GetLabels()) != 1 {
		t.Errorf("foreign instance changed: %v", inst)
	}
}

func TestDuplicateDeliveriesMutateOnce(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	before := s.emu.Faults.MutationSnapshot()
	payload := s.alert(t, "monitoring-incident-open.json")
	var wg sync.WaitGroup
	codes := make([]int, 30)
	for i := range codes {
		wg.Go(func() { codes[i] = s.postEvent(t, "HandleAlert", binary, payload, nil) })
	}
	wg.Wait()
	codes = append(codes, s.postEvent(t, "HandleAlert", structured, payload, nil))
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d = %d", i, c)
		}
	}
	s.finishFollowUps(t)
	after := s.emu.Faults.MutationSnapshot()
	for _, m := range []string{"compute.instances.stop", "compute.instances.setMetadata", "compute.instances.setLabels", "compute.disks.createSnapshot",
		"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion"} {
		if d := after[m] - before[m]; d != 1 {
			t.Errorf("%s: %d mutating calls, want 1", m, d)
		}
	}
	// A second, distinct incident on the contained sandbox changes nothing.
	second := s.alert(t, "monitoring-incident-open.json", "0.n1m3x8a2b7kq", "0.second")
	if code := s.postEvent(t, "HandleAlert", binary, second, nil); code != http.StatusOK {
		t.Fatalf("second incident = %d", code)
	}
	s.finishFollowUps(t)
	if d := resourceMutations(s.emu.Faults.MutationSnapshot()) - resourceMutations(after); d != 0 {
		t.Errorf("second incident made %d mutating calls: %v", d, s.emu.Faults.MutationSnapshot())
	}
	rep := s.incidents(t)["alert-0.second"]
	for _, a := range rep.Actions {
		if a.Action != "collect-logs" && a.Result != incident.ResultAlready {
			t.Errorf("second incident: %s = %s, want already", a.Action, a.Result)
		}
	}
}

// resourceMutations counts mutating calls on the sandbox's resources,
// leaving out coopguard's own reporting (log entries, metric points).
func resourceMutations(m map[string]int) int {
	n := 0
	for method, v := range m {
		switch method {
		case "google.logging.v2.LoggingServiceV2/WriteLogEntries", "google.monitoring.v3.MetricService/CreateTimeSeries":
			continue
		}
		n += v
	}
	return n
}

func TestTransientFailureIsRedelivered(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	// More failures than the retry policy's attempts: the handler must
	// return 5xx so Pub/Sub redelivers.
	s.emu.Faults.FailNext("compute.instances.stop", 5, faults.Fault{Code: codes.Unavailable})
	payload := s.alert(t, "monitoring-incident-open.json")
	if code := s.postEvent(t, "HandleAlert", binary, payload, nil); code/100 != 5 {
		t.Fatalf("first delivery = %d, want 5xx", code)
	}
	rep := s.incidents(t)["alert-0.n1m3x8a2b7kq"]
	if rep.Outcome != incident.OutcomeIncomplete {
		t.Errorf("outcome = %s, want incomplete", rep.Outcome)
	}
	for _, a := range rep.Actions {
		want := incident.ResultDone
		switch a.Action {
		case "stop-vm":
			want = incident.ResultFailed
		case "revoke-key":
			want = incident.ResultAlready // no provider configured
		}
		if a.Result != want {
			t.Errorf("first delivery: %s = %s (%s), want %s", a.Action, a.Result, a.Reason, want)
		}
	}
	mut := s.emu.Faults.MutationSnapshot()
	if code := s.postEvent(t, "HandleAlert", binary, payload, nil); code != http.StatusOK {
		t.Fatalf("redelivery = %d", code)
	}
	rep = s.incidents(t)["alert-0.n1m3x8a2b7kq"]
	if rep.Outcome != incident.OutcomeContained {
		t.Errorf("after redelivery outcome = %s", rep.Outcome)
	}
	after := s.emu.Faults.MutationSnapshot()
	for _, m := range []string{"compute.instances.setMetadata", "compute.instances.setLabels", "google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion"} {
		if after[m] != mut[m] {
			t.Errorf("redelivery repeated %s", m)
		}
	}
	s.finishFollowUps(t)
	if s.instance(t).GetStatus() != "TERMINATED" {
		t.Error("VM not stopped after redelivery")
	}
}

func TestLogEntriesDriveRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		contains bool
		rule     string
	}{
		{"logentry-setiampolicy-by-sandbox-sa.json", true, "sandbox-sa-privileged-call"},
		{"logentry-secret-access-unknown-principal.json", true, "foreign-secret-access"},
		{"logentry-benign-instance-start.json", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t, fastAgentTimeout)
			entry := s.alert(t, tt.file)
			if code := s.postEvent(t, "HandleLogEntry", binary, entry, map[string]string{"logging.googleapis.com/timestamp": "2026-11-22T09:41:03.502Z"}); code != http.StatusOK {
				t.Fatalf("HandleLogEntry = %d\n%s", code, s.logs)
			}
			stoppedVM := s.instance(t).GetStatus() != "RUNNING" // the stop requested
			if stoppedVM != tt.contains {
				t.Errorf("VM stopped = %v, want %v\n%s", stoppedVM, tt.contains, s.logs)
			}
			var got string
			for _, r := range s.incidents(t) {
				got = r.Incident.Trigger
			}
			if got != tt.rule {
				t.Errorf("incident trigger = %q, want %q", got, tt.rule)
			}
		})
	}
}

// TestSpoofedLogEntriesAreRefused: an attacker who can write a log line
// must not steer coopguard at a production VM or a secret it does not
// manage, however the entry is forged: entries that are not the guarded
// project's Cloud Audit Logs are ignored, and an audited call is
// attributed to the sandbox whose account made it, whatever VM it names.
func TestSpoofedLogEntriesAreRefused(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	prod := s.emu.Compute.SeedInstance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, &computepb.Instance{
		Name: proto.String("prod-api"), Labels: map[string]string{"env": "prod"}})
	prodID := strconv.FormatUint(prod.GetId(), 10)
	setIAM := string(s.alert(t, "logentry-setiampolicy-by-sandbox-sa.json"))
	ignored := []struct {
		name, entry string
	}{
		{"other secret", strings.ReplaceAll(string(s.alert(t, "logentry-secret-access-unknown-principal.json")), "anthropic-api-key", "prod-db-password")},
		{"other project's audit log", strings.ReplaceAll(setIAM, `coopguard-local`, `prod-project-1`)},
		{"look-alike log name", strings.ReplaceAll(setIAM, `cloudaudit.googleapis.com%2Factivity`, `cloudaudit.googleapis.com%2Factivity_`)},
		{"audit log name, no AuditLog payload", strings.ReplaceAll(setIAM, `type.googleapis.com/google.cloud.audit.AuditLog`, `type.googleapis.com/google.protobuf.Struct`)},
	}
	for i, tt := range ignored {
		t.Run(tt.name, func(t *testing.T) {
			if tt.entry == setIAM {
				t.Fatal("the forgery changed nothing: the sample's shape changed")
			}
			entry := strings.Replace(tt.entry, `"insertId": "`, `"insertId": "spoof`+strconv.Itoa(i), 1)
			before := resourceMutations(s.emu.Faults.MutationSnapshot())
			if code := s.postEvent(t, "HandleLogEntry", binary, []byte(entry), nil); code != http.StatusOK {
				t.Fatalf("HandleLogEntry = %d, want 200 (acknowledged)", code)
			}
			if d := resourceMutations(s.emu.Faults.MutationSnapshot()) - before; d != 0 {
				t.Errorf("spoofed entry made %d mutating calls: %v", d, s.emu.Faults.MutationSnapshot())
			}
		})
	}
	if n := len(s.incidents(t)); n != 0 {
		t.Errorf("%d incidents from ignored entries, want none", n)
	}
	// The sandbox's own account, in an entry that names the production VM:
	// the sandbox is contained, the production VM left alone.
	forged := strings.Replace(setIAM,
		`"resource": {"labels": {"project_id": "coopguard-local"}, "type": "project"}`,
		`"resource": {"labels": {"project_id": "coopguard-local", "instance_id": "`+prodID+`", "zone": "us-central1-a", "coopguard-sandbox": "claude-sandbox"}, "type": "gce_instance"}, "labels": {"coopguard-sandbox": "claude-sandbox"}`, 1)
	if forged == setIAM {
		t.Fatal("the forgery changed nothing: the sample's shape changed")
	}
	if code := s.postEvent(t, "HandleLogEntry", binary, []byte(forged), nil); code != http.StatusOK {
		t.Fatalf("HandleLogEntry = %d", code)
	}
	if inst, _ := s.emu.Compute.Instance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, "prod-api"); inst.GetStatus() != "RUNNING" || len(inst.GetLabels()) != 1 {
		t.Errorf("production VM touched: %v", inst)
	}
	if st := s.instance(t).GetStatus(); st != "TERMINATED" && st != "STOPPING" {
		t.Errorf("the sandbox whose account made the call is %s, want it stopped", st)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	before := resourceMutations(s.emu.Faults.MutationSnapshot())
	if code := s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), map[string]string{"coopguard-dry-run": "true"}); code != http.StatusOK {
		t.Fatalf("= %d", code)
	}
	if d := resourceMutations(s.emu.Faults.MutationSnapshot()) - before; d != 0 {
		t.Errorf("dry run made %d mutations: %v", d, s.emu.Faults.MutationSnapshot())
	}
	rep := s.incidents(t)["alert-0.n1m3x8a2b7kq"]
	if rep.Outcome != incident.OutcomeDryRun {
		t.Errorf("outcome = %s", rep.Outcome)
	}
	for _, a := range rep.Actions {
		if a.Action != "collect-logs" && a.Result != incident.ResultDryRun {
			t.Errorf("%s = %s, want dry-run", a.Action, a.Result)
		}
	}
}
