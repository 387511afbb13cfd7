package functions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/events"
)

// fleetSizes are the registry sizes the fleet benchmarks measure at.
var fleetSizes = []int{1, 50, 500}

// growFleet records sandboxes in w's registry, one project each, until it
// holds n, and returns how many it holds.
func growFleet(tb testing.TB, w *fleetWorld, recorded, n int) int {
	tb.Helper()
	for ; recorded < n; recorded++ {
		w.record(tb, fmt.Sprintf("fleet-proj-%03d", recorded), fmt.Sprintf("box-%03d", recorded), uint64(1000+recorded))
	}
	return recorded
}

// logEntryEvent wraps an audit entry as Eventarc delivers it from the
// logs topic (a Pub/Sub CloudEvent), with its own message id.
func logEntryEvent(tb testing.TB, entry []byte, id string) event.Event {
	tb.Helper()
	data, err := json.Marshal(map[string]any{"message": map[string]any{
		"data": base64.StdEncoding.EncodeToString(entry), "messageId": id, "attributes": map[string]string{},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	ev := event.New()
	ev.SetID(id)
	ev.SetType(events.PubSubMessagePublished)
	ev.SetSource("//pubsub.googleapis.com/projects/coopguard-demo/topics/coopguard-logs")
	if err := ev.SetData("application/json", data); err != nil {
		tb.Fatal(err)
	}
	return ev
}

// fleetStormEvents is the storm's size; fleetStormWorkers how many
// deliveries are in flight at once (Eventarc pushes concurrently).
const (
	fleetStormEvents  = 1000
	fleetStormWorkers = 16
)

// BenchmarkFleetStorm is HandleLogEntry's throughput under a storm of
// 1,000 audit-entry deliveries spread over every sandbox of a registry of
// 1, 50 and 500 (a project each), 16 in flight at once: for each sandbox,
// its own account's call in its project and an operator's start of its
// VM, both judged and let through (a containment's own cost is
// BenchmarkStorm's). Each delivery goes through the real handler: the
// CloudEvent, the entry, the guarded project, the rules of the sandbox
// found in the registry. It reports events/s at each size and 500 ÷ 1,
// and fails when throughput at 500 is under half the figure at 1.
func BenchmarkFleetStorm(b *testing.B) {
	w := newFleetWorld(b)
	ctx := context.Background()
	recorded := 0
	figures := map[int]float64{}
	for _, n := range fleetSizes {
		recorded = growFleet(b, w, recorded, n)
		var entries [][]byte
		for i := range n {
			project, name := fmt.Sprintf("fleet-proj-%03d", i), fmt.Sprintf("box-%03d", i)
			sb, err := provisioner.SandboxIn(w.cfg, project, name, "")
			if err != nil {
				b.Fatal(err)
			}
			start := sample(b, "logentry-benign-instance-start.json", project, "/instances/claude-sandbox", "/instances/"+name)
			own := sample(b, "logentry-benign-instance-start.json", project, "operator@example.com", sb.ServiceAccount,
				"v1.compute.instances.start", "v1.compute.instances.get", "cloudaudit.googleapis.com%2Factivity", "cloudaudit.googleapis.com%2Fdata_access",
				"/instances/claude-sandbox", "/instances/"+name)
			for _, e := range [][]byte{start, own} {
				// Each is let through: the storm measures judging, not
				// containing.
				if rules, _, err := decideEntry(ctx, w.env, e); err != nil || len(rules) != 0 {
					b.Fatalf("storm entry in %s matched %v (%v); want none", project, rules, err)
				}
			}
			entries = append(entries, start, own)
		}
		evs := make([]event.Event, fleetStormEvents)
		for i := range evs {
			evs[i] = logEntryEvent(b, entries[i%len(entries)], fmt.Sprintf("storm-%d-%d", n, i))
		}
		var secs float64
		for range b.N {
			next := make(chan event.Event)
			var wg sync.WaitGroup
			start := time.Now()
			for range fleetStormWorkers {
				wg.Go(func() {
					for ev := range next {
						if err := w.env.HandleLogEntry(ctx, ev); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for _, ev := range evs {
				next <- ev
			}
			close(next)
			wg.Wait()
			secs += time.Since(start).Seconds()
		}
		figures[n] = float64(fleetStormEvents*b.N) / secs
	}
	for _, n := range fleetSizes {
		b.ReportMetric(figures[n], "events/s@"+strconv.Itoa(n))
	}
	ratio := figures[500] / figures[1]
	b.ReportMetric(ratio, "events/s-500/1")
	if ratio < 0.5 {
		b.Errorf("a storm across 500 sandboxes is judged at %.2f× the rate across 1; want at least half (a lookup, not a scan)", ratio)
	}
	if n := w.emu.Faults.Calls("compute.instances.list"); n != 0 {
		b.Errorf("the storm listed VMs %d times; want lookups only", n)
	}
}

// statusClients is how many clients ask Status at once.
const statusClients = 50

// BenchmarkFleetStatus is Status's latency with 1, 50 and 500 sandboxes
// in the registry (a project each) and 50 clients asking at once, after
// one untimed round per size (the Firestore emulator runs a query of a
// new shape slowly the first time). It reports p50 and p99 in ms at each
// size; every answer must list the whole registry.
func BenchmarkFleetStatus(b *testing.B) {
	w := newFleetWorld(b)
	recorded := 0
	p50, p99 := map[int]float64{}, map[int]float64{}
	for _, n := range fleetSizes {
		recorded = growFleet(b, w, recorded, n)
		var mu sync.Mutex
		var lat []time.Duration
		round := func() {
			var wg sync.WaitGroup
			for range statusClients {
				wg.Go(func() {
					rec := httptest.NewRecorder()
					t0 := time.Now()
					w.env.Status(rec, httptest.NewRequest(http.MethodGet, "/Status", nil))
					d := time.Since(t0)
					var st StatusReport
					if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &st) != nil {
						b.Errorf("Status = %d %s", rec.Code, strings.TrimSpace(rec.Body.String()))
						return
					}
					if len(st.Sandboxes) != n {
						b.Errorf("Status lists %d sandboxes; the registry holds %d", len(st.Sandboxes), n)
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		round()
		lat = nil
		for range b.N {
			round()
		}
		if len(lat) == 0 {
			b.Fatal("no Status answered")
		}
		slices.Sort(lat)
		at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		p50[n], p99[n] = at(0.50), at(0.99)
	}
	for _, n := range fleetSizes {
		b.ReportMetric(p50[n], "status-p50-ms@"+strconv.Itoa(n))
	}
	for _, n := range fleetSizes {
		b.ReportMetric(p99[n], "status-p99-ms@"+strconv.Itoa(n))
	}
}
