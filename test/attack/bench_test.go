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
func BenchmarkDetectionLatency(b *testing.B) {
	s, err := Find("privilege-escalation")
	if err != nil {
		b.Fatal(err)
	}
	profile := compute.GCPLike()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		w, err := Start(ctx, Options{Profile: &profile})
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		b.StartTimer()
		r, err := Run(ctx, w, s, RunOptions{Advance: 5 * time.Second})
		b.StopTimer()
		w.Close()
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if !r.Passed() || r.FirstAction == 0 {
			b.Fatalf("not contained: %s", r.After)
		}
		total += r.FirstAction
	}
	b.ReportMetric(total.Seconds()*1000/float64(b.N), "ms-to-first-action")
}
