package attack

import (
	"context"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// BenchmarkDetectionLatency measures, under the GCP-like profile of
// operation times, the time from the agent's refused call to the first
// containment action coopguard takes (a key version disabled or the VM
// leaving RUNNING): audit entry, sink, Pub/Sub, Eventarc, rule, playbook.
// The emulated clock is driven forward while waiting, so GCP's minutes of
// VM stop and snapshot pass at once; detection runs on real time.
//
// One untimed drill runs first: the Firestore emulator (Java) serves the
// first requests of each kind slowly while it warms up, seconds that a
// deployed Firestore does not charge each incident.
func BenchmarkDetectionLatency(b *testing.B) {
	s, err := Find("privilege-escalation")
	if err != nil {
		b.Fatal(err)
	}
	profile := compute.GCPLike()
	drill := func() time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w, err := Start(ctx, Options{Profile: &profile})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		b.StartTimer()
		r, err := Run(ctx, w, s, RunOptions{Advance: 5 * time.Second})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if !r.Passed() || r.FirstAction == 0 {
			b.Fatalf("not contained: %s", r.After)
		}
		return r.FirstAction
	}
	b.StopTimer()
	drill()
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		total += drill()
	}
	b.ReportMetric(total.Seconds()*1000/float64(b.N), "ms-to-first-action")
}
