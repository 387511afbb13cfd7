package trusted

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// containActions are the contain playbook's actions, as a response
// commits them.
var containActions = []string{"label-incident", "stop-agents", "disable-secrets", "stop-vm", "snapshot-disk", "collect-logs"}

// recordIncident writes one finished incident as a response does: claim,
// acting, one commit per action, the report.
func recordIncident(e *fixture.Env, id string) error {
	ctx := fixture.Quiet
	inc := e.Incident(id, "1", incident.PlaybookContain)
	if _, err := e.Store.Claim(ctx, inc, "bench", time.Now()); err != nil {
		return err
	}
	if err := e.Store.Acting(ctx, id, "bench", "vm"); err != nil {
		return err
	}
	rep := &incident.Report{Incident: inc, Instance: "vm", Outcome: incident.OutcomeContained}
	for _, a := range containActions {
		res := incident.ActionResult{Action: a, Result: incident.ResultDone, Start: time.Now(), End: time.Now()}
		if err := e.Store.CommitAction(ctx, id, "bench", res); err != nil {
			return err
		}
		rep.Actions = append(rep.Actions, res)
	}
	return e.Store.Finish(ctx, id, "bench", rep)
}

// BenchmarkClaimCommit is the store's overhead per incident: the claim,
// the acting mark, a commit per contain action and the report.
func BenchmarkClaimCommit(b *testing.B) {
	e := fixture.New(b)
	b.ResetTimer()
	for i := range b.N {
		if err := recordIncident(e, fmt.Sprintf("bench-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "store-ms/incident")
}

// BenchmarkStatus is Status's latency with 1,000 incidents in the store
// and 50 clients asking at once.
func BenchmarkStatus(b *testing.B) {
	e := fixture.New(b)
	e.SandboxVM(e.Cfg.VM.Name)
	env, err := functions.NewEnv(e.Cfg, e.Clients, logger.FromContext(fixture.Quiet), functions.WithStore(e.Store))
	if err != nil {
		b.Fatal(err)
	}
	functions.SetEnv(env)
	b.Cleanup(func() { functions.SetEnv(nil) })
	const stored, clients = 1000, 50
	var wg sync.WaitGroup
	ids := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range ids {
				if err := recordIncident(e, fmt.Sprintf("stored-%04d", i)); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range stored {
		ids <- i
	}
	close(ids)
	wg.Wait()
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		for range clients {
			wg.Go(func() {
				w := httptest.NewRecorder()
				t0 := time.Now()
				functions.Status(w, httptest.NewRequest(http.MethodGet, "/Status", nil))
				d := time.Since(t0)
				if w.Code != http.StatusOK {
					b.Errorf("Status = %d %s", w.Code, w.Body.String())
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "status-p50-ms")
	b.ReportMetric(at(0.99), "status-p99-ms")
}
