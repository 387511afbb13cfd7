package respond_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestStormMutatesOncePerAction delivers one incident 1,000 times at once:
// exactly one mutating call per action.
func TestStormMutatesOncePerAction(t *testing.T) {
	e := fixture.New(t, []byte("k1"), []byte("k2"))
	inc := e.Incident("alert-storm", e.SandboxVM("claude-sandbox"), incident.PlaybookContain)
	var wg sync.WaitGroup
	errs := make([]error, 1000)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.Responder.Respond(fixture.Quiet, inc, time.Now()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	m := e.Emu.Faults.MutationSnapshot()
	want := map[string]int{
		"compute.instances.setLabels": 1, "compute.instances.setMetadata": 1, "compute.instances.stop": 1, "compute.disks.createSnapshot": 1,
		"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion": 2, // two enabled versions, one call each
		"google.logging.v2.LoggingServiceV2/WriteLogEntries":                      1, // one report
	}
	for method, n := range want {
		if m[method] != n {
			t.Errorf("%s: %d mutating calls, want %d (all: %v)", method, m[method], n, m)
		}
	}
}

// BenchmarkContainment measures event received → last action confirmed
// with 20 ms injected per GCP call, against the critical path of the
// contain playbook's DAG (each action weighted by its measured time), and
// the sum of the actions' times (what running them one at a time costs).
func BenchmarkContainment(b *testing.B) {
	e := fixture.New(b)
	e.Emu.Faults.SetDefaultLatency(20 * time.Millisecond)
	var contain, critical, sequential float64
	for i := range b.N {
		b.StopTimer()
		vm := e.SandboxVM(fmt.Sprintf("sandbox-%d", i))
		b.StartTimer()
		rep, err := e.Responder.Respond(fixture.Quiet, e.Incident(fmt.Sprintf("bench-%d", i), vm, incident.PlaybookContain), time.Now())
		b.StopTimer()
		if err != nil || rep.Outcome != incident.OutcomeContained {
			b.Fatalf("outcome %s: %v %+v", rep.Outcome, err, rep.Actions)
		}
		contain += rep.ContainmentSeconds
		critical += rep.CriticalPathSeconds
		for _, a := range rep.Actions {
			sequential += a.Seconds
		}
		b.StartTimer()
	}
	n := float64(b.N)
	ratio := contain / critical
	b.ReportMetric(contain/n*1000, "containment-ms")
	b.ReportMetric(critical/n*1000, "critical-path-ms")
	b.ReportMetric(ratio, "containment/critical")
	b.ReportMetric(sequential/n*1000, "sum-of-actions-ms")
	if ratio > 1.15 {
		b.Errorf("containment took %.2f× the DAG's critical path, want ≤ 1.15", ratio)
	}
}

// BenchmarkGCPLikeContainment runs a containment with Compute operations
// taking GCP's time (compute.GCPLike: a stop 90 s, a snapshot 3 min) on a
// frozen emulated clock that jumps to each operation's end, and reports
// the seconds from event received to the key versions disabled (nothing
// emulated waits on the way: real seconds) and to the VM TERMINATED
// (emulated seconds, from the VM's lastStopTimestamp).
func BenchmarkGCPLikeContainment(b *testing.B) {
	e := fixture.New(b)
	e.Emu.Compute.SetProfile(compute.GCPLike())
	var keyOff, terminated float64
	for i := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("sandbox-%d", i)
		vm := e.SandboxVM(name)
		t0 := time.Now().Truncate(time.Millisecond)
		e.Emu.Clock.Set(t0)
		stop := make(chan struct{})
		go driveToDeadlines(e, stop)
		b.StartTimer()
		received := time.Now()
		rep, err := e.Responder.Respond(fixture.Quiet, e.Incident(fmt.Sprintf("gcp-like-%d", i), vm, incident.PlaybookContain), received)
		b.StopTimer()
		close(stop)
		if err != nil || rep.Outcome != incident.OutcomeContained {
			b.Fatalf("outcome %s: %v %+v", rep.Outcome, err, rep.Actions)
		}
		for _, a := range rep.Actions {
			if a.Action == "disable-secrets" {
				keyOff += a.End.Sub(received).Seconds()
			}
		}
		stopped, err := time.Parse("2006-01-02T15:04:05.000-07:00", e.Instance(name).GetLastStopTimestamp())
		if err != nil {
			b.Fatalf("VM %s has no stop time: %v", e.Instance(name).GetStatus(), err)
		}
		terminated += stopped.Sub(t0).Seconds()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(keyOff/n, "s-to-key-disabled")
	b.ReportMetric(terminated/n, "s-to-vm-terminated")
}

// driveToDeadlines moves the frozen emulated clock to the end of the
// earliest running Compute operation, once the emulated GCP has heard
// nothing for 20 ms (everything that does not wait on an operation has
// been asked by then), until stop.
func driveToDeadlines(e *fixture.Env, stop <-chan struct{}) {
	calls, quiet := e.Emu.Faults.TotalCalls(), time.Now()
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
		}
		if n := e.Emu.Faults.TotalCalls(); n != calls {
			calls, quiet = n, time.Now()
			continue
		}
		if time.Since(quiet) < 20*time.Millisecond {
			continue
		}
		if next, ok := e.Emu.Compute.NextDeadline(); ok && next.After(e.Emu.Clock.Now()) {
			e.Emu.Clock.Set(next)
		}
	}
}
