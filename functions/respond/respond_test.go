package respond_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
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
