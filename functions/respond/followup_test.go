package respond_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestFollowUpFaults pins issue 19's faults on GCP's clock: whatever the
// follow-up meets, the containment stands (contained at once, never run
// again), the follow-up says exactly what it could not do, stops after a
// bounded time, and the incident ends complete or incomplete with a report
// copied for the operator.
func TestFollowUpFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(e *fixture.Env)
		outcome string
		// failed maps a follow-up step to words its reason must hold.
		failed map[string]string
		// restops: the follow-up requests the stop again (its operation
		// failed); no other containment call is ever made again.
		restops bool
	}{
		{name: "all goes well", outcome: incident.OutcomeComplete},
		{name: "a stop that never reaches TERMINATED",
			prepare: func(e *fixture.Env) {
				e.Emu.Compute.SetProfile(compute.Profile{Default: 2 * time.Second, Methods: map[string]time.Duration{"compute.instances.stop": 100 * time.Hour}})
			},
			outcome: incident.OutcomeIncomplete,
			failed: map[string]string{"vm-terminated": "gave up 30m0s after containment: still VM is STOPPING",
				"snapshot-disk": "waiting for vm-terminated", "collect-logs": "waiting for vm-terminated"}},
		{name: "a stop whose operation fails, twice",
			prepare: func(e *fixture.Env) {
				e.Emu.Faults.FailNext("compute.instances.stop", 2, faults.Fault{OperationError: true, Code: codes.Internal})
			},
			outcome: incident.OutcomeComplete, restops: true},
		{name: "a stop whose operation always fails",
			prepare: func(e *fixture.Env) {
				e.Emu.Faults.FailNext("compute.instances.stop", 10, faults.Fault{OperationError: true, Code: codes.Internal})
			},
			// The snapshot (crash-consistent) and the logs are still taken.
			outcome: incident.OutcomeIncomplete, restops: true,
			failed: map[string]string{"vm-terminated": "5 stops of zones/us-central1-a/instances/claude-sandbox failed"}},
		{name: "a snapshot that fails once",
			prepare: func(e *fixture.Env) {
				e.Emu.Faults.FailNext("compute.disks.createSnapshot", 1, faults.Fault{OperationError: true, Code: codes.Internal})
			},
			outcome: incident.OutcomeComplete},
		{name: "a snapshot that always fails",
			prepare: func(e *fixture.Env) {
				e.Emu.Faults.FailNext("compute.disks.createSnapshot", 10, faults.Fault{OperationError: true, Code: codes.Internal})
			},
			outcome: incident.OutcomeIncomplete,
			failed:  map[string]string{"snapshot-disk": "5 snapshots of disk claude-sandbox failed"}},
		{name: "the Logging read quota exhausted for a while",
			prepare: func(e *fixture.Env) {
				e.Emu.Faults.FailNext("google.logging.v2.LoggingServiceV2/ListLogEntries", 3, faults.Fault{Code: codes.ResourceExhausted})
			},
			outcome: incident.OutcomeComplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := fixture.New(t)
			if tc.prepare != nil {
				tc.prepare(e)
			}
			inc := e.Incident("alert-follow", e.SandboxVM("claude-sandbox"), incident.PlaybookContain)
			rep, err := e.Responder.Respond(fixture.Quiet, inc, time.Now())
			if err != nil || rep.Outcome != incident.OutcomeContained || rep.FollowUp != incident.FollowUpRunning {
				t.Fatalf("response: %s follow-up %q %v; want contained at once with the follow-up running", rep.Outcome, rep.FollowUp, err)
			}
			if st := e.VersionStates(); len(st) != 1 || st[0] != "DISABLED" {
				t.Errorf("key versions %v at the answer, want DISABLED", st)
			}
			containment := map[string]incident.ActionResult{}
			for _, a := range rep.Actions {
				containment[a.Action] = a
			}
			before := e.Emu.Faults.MutationSnapshot()
			passes := e.FinishFollowUps(t, e.Responder)
			rec, err := e.Store.Get(fixture.Quiet, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rec.State != tc.outcome || rec.FollowUp != incident.FollowUpDone {
				t.Fatalf("after %d passes: %s, follow-up %q (%s); want %s and done", passes, rec.State, rec.FollowUp, rec.Report.Reason, tc.outcome)
			}
			if passes > int(store.FollowUpLimit/time.Minute)+2 {
				t.Errorf("the follow-up ran %d passes, past its %v limit", passes, store.FollowUpLimit)
			}
			after := e.Emu.Faults.MutationSnapshot()
			if !tc.restops && after["compute.instances.stop"] != before["compute.instances.stop"] {
				t.Errorf("the follow-up requested the stop again, though it did not fail")
			}
			for _, m := range []string{"compute.instances.setTags", "compute.instances.setLabels", "compute.instances.setMetadata",
				"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion"} {
				if after[m] != before[m] {
					t.Errorf("the follow-up called %s %d more times: containment must never run again", m, after[m]-before[m])
				}
			}
			for _, a := range rec.Report.Actions {
				if c, ok := containment[a.Action]; ok && c.Result != incident.ResultPending && a.Result != c.Result {
					t.Errorf("containment step %s turned %s (was %s)", a.Action, a.Result, c.Result)
				}
				want, shouldFail := tc.failed[a.Action]
				switch {
				case shouldFail && (a.Result != incident.ResultFailed || !strings.Contains(a.Reason, want)):
					t.Errorf("%s: %s %q, want failed with %q", a.Action, a.Result, a.Reason, want)
				case !shouldFail && a.Result != incident.ResultDone && a.Result != incident.ResultAlready:
					t.Errorf("%s: %s (%s %s), want done", a.Action, a.Result, a.Detail, a.Reason)
				}
			}
			if tc.outcome == incident.OutcomeIncomplete && !strings.Contains(rec.Report.Reason, "contained; the follow-up could not finish") {
				t.Errorf("reason %q does not say containment held and what the follow-up could not do", rec.Report.Reason)
			}
			// The operator is told: the final report is copied to Cloud
			// Logging (the log-match policy's source) like the first.
			if got := after["google.logging.v2.LoggingServiceV2/WriteLogEntries"] - before["google.logging.v2.LoggingServiceV2/WriteLogEntries"]; got != 1 {
				t.Errorf("%d report copies written by the follow-up, want the final one", got)
			}
			again, err := e.Responder.Respond(fixture.Quiet, inc, time.Now())
			if err != nil || again.Outcome != tc.outcome {
				t.Errorf("a redelivery after the follow-up: %s %v, want the stored %s", again.Outcome, err, tc.outcome)
			}
		})
	}
}
