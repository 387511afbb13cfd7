package respond_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestEvidenceReadsShareOneBudget: 35 incidents' evidence reads share one
// Cloud Logging read budget: a follow-up pass a minute reads at most
// LogReadsBurst + LogReadsPerMinute times (half of Logging's 60), the rest
// wait for a later pass without failing, and every incident ends with its
// evidence read.
func TestEvidenceReadsShareOneBudget(t *testing.T) {
	t.Parallel()
	e := fixture.New(t)
	vm := e.SandboxVM("claude-sandbox")
	const n = 35
	for i := range n {
		inc := e.Incident(fmt.Sprintf("alert-budget-%d", i), vm, incident.PlaybookNotify)
		if _, err := e.Responder.Respond(fixture.Quiet, inc, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	const list = "google.logging.v2.LoggingServiceV2/ListLogEntries"
	waited := false
	for pass := 1; ; pass++ {
		before := e.Emu.Faults.Calls(list)
		if _, err := e.Responder.FollowUp(fixture.Quiet); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if reads := e.Emu.Faults.Calls(list) - before; reads > respond.LogReadsBurst+respond.LogReadsPerMinute {
			t.Errorf("pass %d read Cloud Logging %d times, want at most %d", pass, reads, respond.LogReadsBurst+respond.LogReadsPerMinute)
		}
		running, err := e.Store.FollowUps(fixture.Quiet, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range running {
			for _, a := range rec.Report.Actions {
				if a.Action == "collect-logs" && a.Result == incident.ResultPending && strings.Contains(a.Detail, "read budget") {
					waited = true
				}
			}
		}
		if len(running) == 0 {
			break
		}
		if pass > 5 {
			t.Fatalf("%d follow-ups still running after %d passes", len(running), pass)
		}
		e.Emu.Clock.Advance(time.Minute)
	}
	if !waited {
		t.Error("no evidence read waited for the budget: the test did not exercise it")
	}
	for i := range n {
		rec, err := e.Store.Get(fixture.Quiet, fmt.Sprintf("alert-budget-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range rec.Report.Actions {
			if a.Action == "collect-logs" && a.Result != incident.ResultDone {
				t.Errorf("%s: collect-logs %s (%s), want done", rec.ID, a.Result, a.Reason)
			}
		}
		if rec.State != incident.OutcomeNotified {
			t.Errorf("%s ended %s (%s), want notified", rec.ID, rec.State, rec.Report.Reason)
		}
	}
}
