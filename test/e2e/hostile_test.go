package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	auditpb "google.golang.org/genproto/googleapis/cloud/audit"

	cgactions "github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// onTime bounds how soon after the response begins containment must have
// cut egress, disabled the key and requested the VM stop: well within the
// VM's 90 s shutdown on the emulated clock, so a response that waited on
// the VM or its watcher fails. It is counted from the start of the plan,
// after the incident store's claim. It is not the speed target (issue 13:
// egress cut and key unusable within 2 s of receipt): a timed test on a
// machine shared with the whole suite would decide that by load, so the
// benchmarks measure it (attack BenchmarkDetectionLatency, make bench).
const onTime = 10 * time.Second

// containMethods are the audited calls that stop the VM, cut its egress
// and disable its key.
var containMethods = []string{"v1.compute.instances.stop", "v1.compute.instances.setTags", "google.cloud.secretmanager.v1.SecretManagerService.DisableSecretVersion"}

// TestHostileVM plays issue 13's hostile VM against the real watcher
// script: the watcher hung by a socket that never answers, the watcher
// killed, an ack forged before the incident. Whatever the VM does, the VM
// stop is requested, egress cut and the key disabled within onTime on the
// emulated clock — before the watcher could have answered — HandleAlert
// answers while the VM is still shutting down, and the follow-up's report
// gives the VM's ack as unverified, missing or stale, never as confirmed.
func TestHostileVM(t *testing.T) {
	t.Parallel()
	const id = "alert-0.n1m3x8a2b7kq"
	cases := []struct {
		name string
		// silent puts a socket that never answers among the agent's tmux
		// sockets and behind Docker.
		silent bool
		// killWatcher kills the watcher before the incident.
		killWatcher bool
		// forged is an ack some process on the VM writes before the
		// incident, given the time then.
		forged  func(now time.Time) string
		wantAck string
	}{
		{name: "watcher hung by a silent socket", silent: true, wantAck: cgactions.AckUnverified + ": stopped " + id + " "},
		{name: "watcher killed", killWatcher: true, wantAck: cgactions.AckMissing + ": "},
		{name: "ack forged before the incident", killWatcher: true,
			forged:  func(now time.Time) string { return fmt.Sprintf("stopped %s %d", id, now.Add(-time.Hour).Unix()) },
			wantAck: cgactions.AckStale + ": "},
		{name: "ack forged before the incident, dated after it", killWatcher: true,
			forged:  func(now time.Time) string { return fmt.Sprintf("stopped %s %d", id, now.Add(30*time.Second).Unix()) },
			wantAck: "was there before the flag was set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t, func(c *config.Config) { c.Coopguard.AgentStopTimeout = config.Duration{Duration: 20 * time.Second} })
			// GCE lets the guest shut down for up to 90 s: the VM stays
			// STOPPING, its watcher still running, until the test moves
			// the emulated clock.
			s.emu.Compute.SetProfile(compute.Profile{Methods: map[string]time.Duration{"compute.instances.stop": 90 * time.Second}})
			ag := startAgents(t, s.world, s.cfg.VM.Name, agentOptions{silent: tc.silent})
			// The watcher has reported "running" once it is up.
			waitFor(t, "the watcher's first report", func() bool { return strings.HasPrefix(ag.guestAttr(t), "running ") })
			if tc.killWatcher {
				ag.killWatcher()
			}
			if tc.forged != nil {
				ag.putGuestAttr(t, tc.forged(s.emu.Clock.Now()))
			}

			done := make(chan int, 1)
			sent := s.emu.Clock.Now()
			go func() {
				code := 0
				defer func() { done <- code }()
				code = s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil)
			}()
			// Containment acts from outside the VM: stop requested, egress
			// cut, key disabled, while the VM is still shutting down.
			// Their audit entries are written as the calls end.
			responder := emulator.Responder(s.cfg.Cloud.GCP.Project)
			waitFor(t, "the VM stop requested, egress cut and the key disabled", func() bool {
				inst := s.instance(t)
				if inst.GetStatus() == "RUNNING" || !slices.Contains(inst.GetTags().GetItems(), "coopguard-quarantine") ||
					!slices.Equal(s.versionStates(t), []string{"DISABLED"}) {
					return false
				}
				for _, m := range containMethods {
					if _, ok := firstAudited(s, m, responder); !ok {
						return false
					}
				}
				return true
			})
			ack := ""
			if !tc.killWatcher {
				// The live watcher gets past the silent socket, ends the
				// agents and acks, while the VM is shutting down.
				waitFor(t, "the watcher's ack", func() bool { ack = ag.guestAttr(t); return strings.HasPrefix(ack, "stopped "+id+" ") })
				for _, sess := range ag.sessions {
					if ag.alive(t, sess) {
						t.Errorf("agent tmux session %s survived the watcher", sess)
					}
				}
				if !strings.Contains(ag.log.String(), "did not stop within") {
					t.Errorf("the watcher never met the silent socket; its log:\n%s", ag.log)
				}
				if _, err := exec.LookPath("docker"); err == nil && !strings.Contains(ag.log.String(), "docker ps failed or took over") {
					t.Errorf("the watcher did not give up on a Docker that never answers; its log:\n%s", ag.log)
				}
				if ag.root {
					waitFor(t, "the agent process outside tmux ended", func() bool { return !ag.strayAlive() })
					if !ag.operatorAlive() {
						t.Error("the watcher killed root's tmux server, which is no agent user's")
					}
				}
			}
			// The containment answers without waiting for the VM.
			select {
			case code := <-done:
				if code != http.StatusOK {
					t.Fatalf("HandleAlert = %d; logs:\n%s", code, s.logs)
				}
			case <-time.After(time.Minute):
				t.Fatalf("HandleAlert did not answer; logs:\n%s", s.logs)
			}
			if got := s.incidents(t)[id]; got.Outcome != incident.OutcomeContained || got.FollowUp != incident.FollowUpRunning {
				t.Errorf("at the answer: %s, follow-up %q; want contained, follow-up running", got.Outcome, got.FollowUp)
			}
			// The guest's shutdown ends: the VM is TERMINATED; the
			// follow-up reads the VM's answer and finishes.
			s.emu.Clock.Advance(90 * time.Second)
			s.finishFollowUps(t)

			rep, ok := s.incidents(t)[id]
			if !ok {
				t.Fatalf("incident missing from Status; logs:\n%s", s.logs)
			}
			inst := s.instance(t)
			if inst.GetStatus() != "TERMINATED" || !slices.Contains(inst.GetTags().GetItems(), "coopguard-quarantine") {
				t.Errorf("VM %s tags %v, want TERMINATED with coopguard-quarantine", inst.GetStatus(), inst.GetTags().GetItems())
			}
			if got := s.versionStates(t); !slices.Equal(got, []string{"DISABLED"}) {
				t.Errorf("key versions %v, want DISABLED", got)
			}
			if rep.Outcome != incident.OutcomeComplete {
				t.Errorf("outcome %s (%s), want complete", rep.Outcome, rep.Reason)
			}
			// On the emulated clock (moved by the test only after these
			// calls), from the alert's delivery to each call.
			begun := sent
			for _, a := range rep.Actions {
				t.Logf("%s: %s +%.3fs %.3fs", a.Action, a.Result, a.Start.Sub(rep.ReceivedAt).Seconds(), a.Seconds)
			}
			for _, m := range containMethods {
				at, ok := firstAudited(s, m, responder)
				switch {
				case !ok:
					t.Errorf("no audit entry of %s by the responder", m)
				case at.Sub(begun) > onTime:
					t.Errorf("%s %.3fs after the alert was delivered, want within %s", m, at.Sub(begun).Seconds(), onTime)
				case m == "v1.compute.instances.stop" && ack != "" && at.Unix() >= ackTime(t, ack):
					t.Errorf("the VM stop was requested at %s, not before the watcher's ack %q", at.Format(time.RFC3339Nano), ack)
				}
			}
			var detail string
			for _, a := range rep.Actions {
				if a.Action == "agents-ack" {
					detail = a.Detail
				}
			}
			if !strings.Contains(detail, tc.wantAck) || strings.Contains(detail, "confirmed") {
				t.Errorf("agents-ack detail = %q, want %q and never \"confirmed\"", detail, tc.wantAck)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		pollPause()
	}
}

// guestAttr reads coopguard/agents as a process on the VM would.
func (a *agents) guestAttr(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+a.host+"/computeMetadata/v1/instance/guest-attributes/coopguard/agents", nil)
	if err != nil {
		t.Fatal(err)
	}
	return a.metadataCall(t, req)
}

// putGuestAttr writes coopguard/agents as any process on the VM can.
func (a *agents) putGuestAttr(t *testing.T, v string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+a.host+"/computeMetadata/v1/instance/guest-attributes/coopguard/agents", strings.NewReader(v))
	if err != nil {
		t.Fatal(err)
	}
	a.metadataCall(t, req)
}

func (a *agents) metadataCall(t *testing.T, req *http.Request) string {
	t.Helper()
	req.Header.Set("Metadata-Flavor", "Google")
	code, b := send(t, req)
	if code == http.StatusNotFound {
		return ""
	}
	if code != http.StatusOK {
		t.Fatalf("%s %s = %d %s", req.Method, req.URL.Path, code, b)
	}
	return string(b)
}

// ackTime is the unix time of an ack "stopped <incident> <unix time>".
func ackTime(t *testing.T, ack string) int64 {
	t.Helper()
	f := strings.Fields(ack)
	at, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		t.Fatalf("ack %q carries no unix time", ack)
	}
	return at
}

// firstAudited is the time of the first Admin Activity audit entry of
// method by principal.
func firstAudited(s *sandboxWorld, method, principal string) (time.Time, bool) {
	var first time.Time
	for _, e := range s.emu.Logging.AllEntries() {
		if !strings.HasSuffix(e.GetLogName(), "/logs/cloudaudit.googleapis.com%2Factivity") {
			continue
		}
		var a auditpb.AuditLog
		if p := e.GetProtoPayload(); p == nil || p.UnmarshalTo(&a) != nil {
			continue
		}
		if a.GetMethodName() != method || a.GetAuthenticationInfo().GetPrincipalEmail() != principal {
			continue
		}
		if at := e.GetTimestamp().AsTime(); first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first, !first.IsZero()
}
