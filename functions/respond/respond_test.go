package respond_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestStormMutatesOncePerAction delivers one incident 1,000 times at once
// to four responders (four Cloud Run instances sharing the store) on GCP's
// operation times (a stop 90 s, a snapshot 3 min): exactly one mutating
// call per action; every delivery answered once the containment holds —
// none waits for the VM to stop, and a delivery to an instance that does
// not hold the incident is answered at once, never held as long as the
// response that acts; the follow-up run once to the end by the
// Scheduler's ticks; and later deliveries change nothing.
func TestStormMutatesOncePerAction(t *testing.T) {
	t.Parallel()
	e := fixture.New(t, []byte("k1"), []byte("k2"))
	inc := e.Incident("alert-storm", e.SandboxVM("claude-sandbox"), incident.PlaybookContain)
	responders := []*respond.Responder{e.Responder}
	for range 3 {
		responders = append(responders, respond.New(e.Cfg, e.Clients, e.Recorder, e.Store, nil))
	}
	deliver := func(n int) (took []time.Duration, reps []*incident.Report) {
		var wg sync.WaitGroup
		errs := make([]error, n)
		took, reps = make([]time.Duration, n), make([]*incident.Report, n)
		for i := range errs {
			wg.Go(func() {
				start := time.Now()
				reps[i], errs[i] = responders[i%len(responders)].Respond(fixture.Quiet, inc, start)
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("delivery %d: %v", i, err)
			}
		}
		return took, reps
	}
	took, reps := deliver(1000)
	stored, err := e.Store.Get(fixture.Quiet, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.State != incident.OutcomeContained || stored.FollowUp != incident.FollowUpRunning {
		t.Fatalf("after the storm: %s, follow-up %q; want contained with the follow-up running", stored.State, stored.FollowUp)
	}
	if got := e.Instance("claude-sandbox").GetStatus(); got != "STOPPING" {
		t.Errorf("every delivery answered while the VM is %s; want STOPPING (nobody waited for the stop)", got)
	}
	// The acting response is the longest; a delivery answered at once
	// (claimed or acting at the time) took less.
	longest := slices.Max(took)
	for i, r := range reps {
		switch r.Outcome {
		case store.StateClaimed, store.StateActing:
			if took[i] >= longest {
				t.Errorf("delivery %d answered %s after %v, as long as the acting response (%v)", i, r.Outcome, took[i], longest)
			}
		case incident.OutcomeContained:
		default:
			t.Errorf("delivery %d: outcome %s", i, r.Outcome)
		}
	}
	passes := e.FinishFollowUps(t, e.Responder)
	deliver(100)
	m := e.Emu.Faults.MutationSnapshot()
	want := map[string]int{
		"compute.instances.setLabels": 1, "compute.instances.setMetadata": 1, "compute.instances.stop": 1, "compute.disks.createSnapshot": 1,
		"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion": 2, // two enabled versions, one call each
		"google.logging.v2.LoggingServiceV2/WriteLogEntries":                      2, // the contained report, the complete one
	}
	for method, n := range want {
		if m[method] != n {
			t.Errorf("%s: %d mutating calls, want %d (all: %v)", method, m[method], n, m)
		}
	}
	done, err := e.Store.Get(fixture.Quiet, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != incident.OutcomeComplete || done.FollowUp != incident.FollowUpDone {
		t.Errorf("after %d follow-up passes: %s, follow-up %q; want complete and done", passes, done.State, done.FollowUp)
	}
	for _, a := range done.Report.Actions {
		if a.Result != incident.ResultDone && a.Result != incident.ResultAlready {
			t.Errorf("%s: %s (%s %s)", a.Action, a.Result, a.Detail, a.Reason)
		}
	}
}

// TestEveryOutcomeCommittedBeforeReport: outcomes are written off the
// playbook's path, yet when a response reports the incident done, the
// store holds every action's outcome as the report states it.
func TestEveryOutcomeCommittedBeforeReport(t *testing.T) {
	t.Parallel()
	e := fixture.New(t, []byte("k1"), []byte("k2"))
	plan, err := playbook.For(incident.PlaybookContain)
	if err != nil {
		t.Fatal(err)
	}
	inc := e.Incident("alert-committed", e.SandboxVM("claude-sandbox"), incident.PlaybookContain)
	rep, err := e.Responder.Respond(fixture.Quiet, inc, time.Now())
	if err != nil || rep.Outcome != incident.OutcomeContained {
		t.Fatalf("outcome %s: %v", rep.Outcome, err)
	}
	rec, err := e.Store.Get(fixture.Quiet, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != incident.OutcomeContained || len(rec.Actions) != len(plan.Steps) {
		t.Fatalf("store: state %s with %d outcomes, want contained with the %d of the plan", rec.State, len(rec.Actions), len(plan.Steps))
	}
	for _, a := range rep.Actions {
		if a.Result == incident.ResultPending {
			continue // the follow-up's, not looked at yet
		}
		got := rec.Actions[a.Action]
		if got.Result != a.Result || !slices.Equal(got.Changed, a.Changed) {
			t.Errorf("%s: stored %s %v, reported %s %v", a.Action, got.Result, got.Changed, a.Result, a.Changed)
		}
	}
}

// BenchmarkContainment measures a contain response with 20 ms injected per
// GCP call, after one untimed response (a process's first Firestore call
// pays the connection and the Java emulator's warm-up). Figures:
//
//   - containment: event received → last action confirmed;
//   - critical path: vetting the VM and taking its lease, then the contain
//     DAG's longest chain, each action weighted by its measured time;
//   - dag / dag critical: first action started → last confirmed, against
//     the DAG's own longest chain (target ≤ 1.15: the executor adds no
//     waiting of its own, commits included);
//   - claim: what the incident store adds before the first action (the
//     claim and the acting mark, beyond the VM's lease), a Firestore
//     round trip or two that one-response-per-incident needs;
//   - done after: last action confirmed → response returned (the last
//     outcome's commit, the report written to the store and copied to
//     Cloud Logging, the leases released);
//   - sum of actions: the same actions one at a time.
func BenchmarkContainment(b *testing.B) {
	e := fixture.New(b)
	e.Emu.Faults.SetDefaultLatency(20 * time.Millisecond)
	plan, err := playbook.For(incident.PlaybookContain)
	if err != nil {
		b.Fatal(err)
	}
	contain1 := func(id string) (*incident.Report, time.Time, time.Duration) {
		vm := e.SandboxVM(id)
		received := time.Now()
		rep, err := e.Responder.Respond(fixture.Quiet, e.Incident(id, vm, incident.PlaybookContain), received)
		took := time.Since(received)
		if err != nil || rep.Outcome != incident.OutcomeContained {
			b.Fatalf("outcome %s: %v %+v", rep.Outcome, err, rep.Actions)
		}
		return rep, received, took
	}
	contain1("warm-up")
	var contain, critical, dag, dagCritical, claim, after, sequential float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		rep, received, took := contain1(fmt.Sprintf("sandbox-%d", i))
		first, last := rep.Actions[0].Start, rep.Actions[0].End
		for _, a := range rep.Actions {
			if a.Result == incident.ResultPending {
				continue // the follow-up's, not looked at yet
			}
			first, last = minTime(first, a.Start), maxTime(last, a.End)
			sequential += a.Seconds
		}
		chain := longestChain(plan, rep.Actions).Seconds()
		contain += rep.ContainmentSeconds
		critical += rep.CriticalPathSeconds
		dag += last.Sub(first).Seconds()
		dagCritical += chain
		// Before the first action: vetting and the VM's lease (in the
		// critical path) and the store's claim and acting mark.
		claim += first.Sub(received).Seconds() - (rep.CriticalPathSeconds - chain)
		after += (took - last.Sub(received)).Seconds()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(contain/n*1000, "containment-ms")
	b.ReportMetric(critical/n*1000, "critical-path-ms")
	b.ReportMetric(contain/critical, "containment/critical")
	b.ReportMetric(dag/n*1000, "dag-ms")
	b.ReportMetric(dagCritical/n*1000, "dag-critical-ms")
	b.ReportMetric(dag/dagCritical, "dag/critical")
	b.ReportMetric(claim/n*1000, "claim-ms")
	b.ReportMetric(after/n*1000, "done-after-ms")
	b.ReportMetric(sequential/n*1000, "sum-of-actions-ms")
	if ratio := dag / dagCritical; ratio > 1.15 {
		b.Errorf("the contain DAG took %.2f× its critical path, want ≤ 1.15", ratio)
	}
}

// longestChain is the plan's critical path: each step weighted by its
// action's measured time, after the longest chain of the steps it comes
// after.
func longestChain(plan playbook.Plan, results []incident.ActionResult) time.Duration {
	took := map[string]time.Duration{}
	for _, a := range results {
		took[a.Action] = a.End.Sub(a.Start)
	}
	finish := map[string]time.Duration{}
	var longest time.Duration
	for _, s := range plan.Steps { // steps are in a valid order
		var start time.Duration
		for _, dep := range s.After {
			start = max(start, finish[dep])
		}
		finish[s.Action] = start + took[s.Action]
		longest = max(longest, finish[s.Action])
	}
	return longest
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
