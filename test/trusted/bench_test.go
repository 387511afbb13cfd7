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
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// storeTimes are the store's calls of one response, timed.
type storeTimes struct {
	claim, acting, commits, finish time.Duration
	actions                        int
}

// recordIncident writes one finished incident as a response does: the
// claim, the acting mark, a commit per contain action (the most a
// response makes: it commits outcomes that finish together in one
// write), the report.
func recordIncident(e *fixture.Env, id string) (storeTimes, error) {
	ctx := fixture.Quiet
	var st storeTimes
	plan, err := playbook.For(incident.PlaybookContain)
	if err != nil {
		return st, err
	}
	inc := e.Incident(id, "1", incident.PlaybookContain)
	t0 := time.Now()
	if _, err := e.Store.Claim(ctx, inc, "bench", time.Now()); err != nil {
		return st, err
	}
	t1 := time.Now()
	if err := e.Store.Acting(ctx, id, "bench", "vm"); err != nil {
		return st, err
	}
	t2 := time.Now()
	rep := &incident.Report{Incident: inc, Instance: "vm", Outcome: incident.OutcomeContained}
	for _, s := range plan.Steps {
		res := incident.ActionResult{Action: s.Action, Result: incident.ResultDone, Start: time.Now(), End: time.Now()}
		if err := e.Store.CommitAction(ctx, id, "bench", res); err != nil {
			return st, err
		}
		rep.Actions = append(rep.Actions, res)
	}
	t3 := time.Now()
	if err := e.Store.Finish(ctx, id, "bench", rep); err != nil {
		return st, err
	}
	st = storeTimes{claim: t1.Sub(t0), acting: t2.Sub(t1), commits: t3.Sub(t2), finish: time.Since(t3), actions: len(plan.Steps)}
	return st, nil
}

// BenchmarkClaimCommit is the store's overhead per incident: the claim,
// the acting mark, a commit per contain action and the report, after one
// untimed incident (a project's first Firestore call pays the emulator's
// set-up of its database).
func BenchmarkClaimCommit(b *testing.B) {
	e := fixture.New(b)
	if _, err := recordIncident(e, "warm-up"); err != nil {
		b.Fatal(err)
	}
	var sum storeTimes
	b.ResetTimer()
	for i := range b.N {
		st, err := recordIncident(e, fmt.Sprintf("bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		sum.claim += st.claim
		sum.acting += st.acting
		sum.commits += st.commits
		sum.finish += st.finish
		sum.actions += st.actions
	}
	ms := func(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	b.ReportMetric(ms(b.Elapsed(), b.N), "store-ms/incident")
	b.ReportMetric(ms(sum.claim, b.N), "claim-ms")
	b.ReportMetric(ms(sum.acting, b.N), "acting-ms")
	b.ReportMetric(ms(sum.commits, sum.actions), "commit-ms/action")
	b.ReportMetric(ms(sum.finish, b.N), "report-ms")
}

// BenchmarkStatus is Status's latency with 1,000 incidents in the store
// and 50 clients asking at once. (The Firestore emulator answers the
// newest-first query by scanning the collection; Firestore reads an
// index, so it costs the same whatever the store holds.)
func BenchmarkStatus(b *testing.B) {
	e := fixture.New(b)
	e.SandboxVM(e.Cfg.VM.Name)
	env, err := functions.NewEnv(e.Cfg, e.Clients, logger.FromContext(fixture.Quiet), functions.WithStore(e.Store), functions.WithClock(e.Emu.Clock.Now))
	if err != nil {
		b.Fatal(err)
	}
	const stored, clients = 1000, 50
	var wg sync.WaitGroup
	ids := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range ids {
				if _, err := recordIncident(e, fmt.Sprintf("stored-%04d", i)); err != nil {
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
	round := func() {
		for range clients {
			wg.Go(func() {
				w := httptest.NewRecorder()
				t0 := time.Now()
				env.Status(w, httptest.NewRequest(http.MethodGet, "/Status", nil))
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
	// One untimed round: the Firestore emulator (Java) runs a query of a
	// new shape slowly the first time.
	round()
	lat = nil
	b.ResetTimer()
	for range b.N {
		round()
	}
	b.StopTimer()
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "status-p50-ms")
	b.ReportMetric(at(0.99), "status-p99-ms")
}
