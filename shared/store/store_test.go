package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
)

func TestMain(m *testing.M) {
	if _, err := firestoreemu.Shared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	firestoreemu.StopShared()
	os.Exit(code)
}

var projects atomic.Int64

// open returns a store on a project of its own in the shared emulator, on
// a frozen clock the test moves.
func open(t *testing.T) (*store.Store, *emulator.Clock) {
	t.Helper()
	clock := emulator.FrozenClock(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	project := fmt.Sprintf("store-test-%d", projects.Add(1))
	s, err := store.Open(context.Background(), project, store.Options{Now: clock.Now, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clock
}

func inc(id string) incident.Incident {
	return incident.Incident{ID: id, Source: incident.SourceAlert, Playbook: incident.PlaybookContain, Project: "p"}
}

func done(action string, changed ...string) incident.ActionResult {
	return incident.ActionResult{Action: action, Result: incident.ResultDone, Changed: changed}
}

func TestClaimLeaseAndTakeover(t *testing.T) {
	s, clock := open(t)
	ctx := context.Background()
	c, err := s.Claim(ctx, inc("alert-1"), "a", clock.Now())
	if err != nil || !c.Taken || c.Record.State != store.StateClaimed || c.Record.Claims != 1 {
		t.Fatalf("first claim = %+v, %v; want taken, claimed, 1 claim", c, err)
	}
	if _, err := s.Claim(ctx, inc("alert-1"), "b", clock.Now()); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("second owner's claim during the lease: %v, want ErrBusy", err)
	}
	// a commits one action, then dies; its lease runs out.
	if err := s.Acting(ctx, "alert-1", "a", "vm"); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitAction(ctx, "alert-1", "a", done("disable-secrets", "projects/p/secrets/k/versions/1")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	if _, err := s.Claim(ctx, inc("alert-1"), "b", clock.Now()); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("claim before the renewed lease expired: %v, want ErrBusy", err)
	}
	clock.Advance(2 * time.Second)
	c, err = s.Claim(ctx, inc("alert-1"), "b", clock.Now())
	if err != nil || !c.Taken || c.Record.Claims != 2 {
		t.Fatalf("claim after expiry = %+v, %v; want taken over (2 claims)", c, err)
	}
	if got := c.Record.Actions["disable-secrets"].Changed; !reflect.DeepEqual(got, []string{"projects/p/secrets/k/versions/1"}) {
		t.Fatalf("taken-over record's disable-secrets changed %v, want the dead owner's commit", got)
	}
	// a comes back: its commit is kept as a fact, but it is told to stop,
	// and its report is refused.
	if err := s.CommitAction(ctx, "alert-1", "a", done("stop-vm", "vm")); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("commit by the old owner: %v, want ErrLeaseLost", err)
	}
	if err := s.Finish(ctx, "alert-1", "a", &incident.Report{Incident: inc("alert-1"), Outcome: incident.OutcomeContained}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("finish by the old owner: %v, want ErrLeaseLost", err)
	}
	// b redoes disable-secrets and finds it already done: the record keeps
	// the change once.
	if err := s.CommitAction(ctx, "alert-1", "b", incident.ActionResult{Action: "disable-secrets", Result: incident.ResultAlready}); err != nil {
		t.Fatal(err)
	}
	rep := &incident.Report{Incident: inc("alert-1"), Instance: "vm", Outcome: incident.OutcomeContained}
	if err := s.Finish(ctx, "alert-1", "b", rep); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(ctx, "alert-1")
	if err != nil {
		t.Fatal(err)
	}
	ds := rec.Actions["disable-secrets"]
	if ds.Result != incident.ResultDone || len(ds.Changed) != 1 {
		t.Errorf("disable-secrets = %+v, want done with its one change", ds)
	}
	if _, ok := rec.Actions["stop-vm"]; !ok {
		t.Errorf("the old owner's stop-vm outcome was dropped: %v", rec.Actions)
	}
	if rec.State != incident.OutcomeContained || rec.Owner != "" || len(rec.History) != 1 || rec.Instance != "vm" {
		t.Errorf("finished record = state %s owner %q history %d instance %q", rec.State, rec.Owner, len(rec.History), rec.Instance)
	}
	// A redelivery of a finished incident takes nothing.
	c, err = s.Claim(ctx, inc("alert-1"), "c", clock.Now())
	if err != nil || c.Taken || !c.Record.Finished() {
		t.Fatalf("claim of a finished incident = %+v, %v; want its record, not taken", c, err)
	}
}

func TestIncompleteIsResumed(t *testing.T) {
	s, clock := open(t)
	ctx := context.Background()
	if _, err := s.Claim(ctx, inc("log-1"), "a", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, "log-1", "a", &incident.Report{Incident: inc("log-1"), Outcome: incident.OutcomeIncomplete}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, inc("log-1"), "b", clock.Now())
	if err != nil || !c.Taken {
		t.Fatalf("claim of an incomplete incident = %+v, %v; want taken at once", c, err)
	}
}

// TestConcurrentClaimsTakeOnce: of concurrent claims of a new incident
// (create precondition) and of an incomplete one (update-time
// precondition), exactly one takes it.
func TestConcurrentClaimsTakeOnce(t *testing.T) {
	t.Run("new", func(t *testing.T) { concurrentClaims(t, false) })
	t.Run("incomplete", func(t *testing.T) { concurrentClaims(t, true) })
}

func concurrentClaims(t *testing.T, incomplete bool) {
	s, clock := open(t)
	ctx := context.Background()
	if incomplete {
		if _, err := s.Claim(ctx, inc("alert-race"), "first", clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, "alert-race", "first", &incident.Report{Incident: inc("alert-race"), Outcome: incident.OutcomeIncomplete}); err != nil {
			t.Fatal(err)
		}
	}
	var taken, busy atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Claim(ctx, inc("alert-race"), fmt.Sprint("owner-", i), clock.Now())
			switch {
			case err == nil && c.Taken:
				taken.Add(1)
			case errors.Is(err, store.ErrBusy):
				busy.Add(1)
			default:
				t.Errorf("claim %d: %+v, %v", i, c, err)
			}
		}()
	}
	wg.Wait()
	if taken.Load() != 1 || busy.Load() != 11 {
		t.Fatalf("12 concurrent claims: %d taken, %d busy; want 1 and 11", taken.Load(), busy.Load())
	}
}

func TestMergeResult(t *testing.T) {
	v1, v2 := "projects/p/secrets/k/versions/1", "projects/p/secrets/k/versions/2"
	tests := []struct {
		name     string
		old, new incident.ActionResult
		want     incident.ActionResult
	}{
		{"first", incident.ActionResult{}, done("a", v1), done("a", v1)},
		{"done then already keeps the change", done("a", v1), incident.ActionResult{Action: "a", Result: incident.ResultAlready}, done("a", v1)},
		{"done then failed keeps done", done("a", v1), incident.ActionResult{Action: "a", Result: incident.ResultFailed, Reason: "x"}, done("a", v1)},
		{"failed then done", incident.ActionResult{Action: "a", Result: incident.ResultFailed, Reason: "x"}, done("a", v1), done("a", v1)},
		{"two partial runs: union, each once", done("a", v1), done("a", v2, v1), done("a", v1, v2)},
		{"changed by a dead attempt, already now", incident.ActionResult{Action: "a", Result: incident.ResultFailed, Changed: []string{v1}}, incident.ActionResult{Action: "a", Result: incident.ResultAlready}, done("a", v1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := store.MergeResult(tt.old, tt.new)
			if got.Result != tt.want.Result || !reflect.DeepEqual(got.Changed, tt.want.Changed) {
				t.Errorf("MergeResult = %s %v, want %s %v", got.Result, got.Changed, tt.want.Result, tt.want.Changed)
			}
		})
	}
}

func TestLockWaitListOnInstance(t *testing.T) {
	s, clock := open(t)
	ctx := context.Background()
	for i, id := range []string{"alert-a", "alert-b", "Odd/ID with spaces"} {
		if _, err := s.Claim(ctx, inc(id), "r", clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.Acting(ctx, id, "r", "vm"); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := s.Finish(ctx, id, "r", &incident.Report{Incident: inc(id), Instance: "vm", Outcome: incident.OutcomeContained}); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Second)
	}
	// Wait returns a finished one at once, and gives up on a live lease.
	if rec, err := s.Wait(ctx, "alert-a"); err != nil || rec.State != incident.OutcomeContained {
		t.Fatalf("Wait(finished) = %v, %v", rec, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(wctx, "Odd/ID with spaces"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait(leased) = %v, want the context's deadline", err)
	}
	if _, err := s.Lock(ctx, "Odd/ID with spaces", "resolver"); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("Lock of an acting incident = %v, want ErrBusy", err)
	}
	rec, err := s.Lock(ctx, "alert-a", "resolver")
	if err != nil || rec.Owner != "resolver" {
		t.Fatalf("Lock(finished) = %+v, %v", rec, err)
	}
	if _, err := s.Claim(ctx, inc("alert-a"), "r2", clock.Now()); err != nil {
		t.Fatalf("redelivery while resolving: %v, want the finished record", err)
	}
	if err := s.Unlock(ctx, "alert-a", "resolver"); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	if want := []string{"alert-a", "Odd/ID with spaces"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("List(2) = %v, want most recently updated first %v", ids, want)
	}
	// Listed records carry their latest report, not the history.
	for _, r := range list {
		if len(r.History) != 0 {
			t.Errorf("List read %s's history of %d reports, want none", r.ID, len(r.History))
		}
	}
	if list[0].Report == nil || list[0].View().Outcome != incident.OutcomeContained {
		t.Errorf("listed alert-a shows %+v, want its contained report", list[0].Report)
	}
	on, err := s.OnInstance(ctx, "vm")
	if err != nil || len(on) != 3 {
		t.Fatalf("OnInstance = %d records, %v; want 3", len(on), err)
	}
	if _, err := s.Get(ctx, "alert-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
}

func TestLockInstance(t *testing.T) {
	s, clock := open(t)
	ctx := context.Background()
	release, waited, err := s.LockInstance(ctx, "vm", "a", "alert-1")
	if err != nil || waited {
		t.Fatalf("first lock: waited %v, %v", waited, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if _, _, err := s.LockInstance(wctx, "vm", "b", "alert-2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held = %v, want a wait that gives up", err)
	}
	got := make(chan error, 1)
	go func() {
		rel, _, err := s.LockInstance(ctx, "vm", "b", "alert-2")
		if err == nil {
			rel(ctx)
		}
		got <- err
	}()
	release(ctx)
	if err := <-got; err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	// A holder that died: its lease expires on the store's clock.
	if _, _, err := s.LockInstance(ctx, "vm2", "dead", "alert-3"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	rel, _, err := s.LockInstance(ctx, "vm2", "b", "alert-4")
	if err != nil {
		t.Fatalf("lock after the holder's lease expired: %v", err)
	}
	rel(ctx)
}
