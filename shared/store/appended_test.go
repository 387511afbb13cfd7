package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
)

// TestAppendGoesToTheSandboxsOpenIncident: events are appended to the
// incident MarkOpen named for the sandbox (by VM name or id) while it is
// open and takes them, and to nothing otherwise.
func TestAppendGoesToTheSandboxsOpenIncident(t *testing.T) {
	s, clock := open(t)
	ctx := context.Background()
	events := func(n int) *incident.Appended {
		a := &incident.Appended{}
		for range n {
			a.Add(clock.Now(), "SetIamPolicy", "sandbox-sa-privileged-call")
		}
		return a
	}
	all := func(n int) func(*store.Record, string) *incident.Appended {
		return func(_ *store.Record, account string) *incident.Appended {
			if account != "sbx@p.iam.gserviceaccount.com" {
				t.Errorf("the sandbox's account is %q, want the one marked", account)
			}
			return events(n)
		}
	}
	if rec, err := s.Append(ctx, "vm", func(*store.Record, string) *incident.Appended { return events(1) }); err != nil || rec != nil {
		t.Fatalf("append with no open incident = %v, %v; want nothing taken", rec, err)
	}
	if _, err := s.Claim(ctx, inc("log-1"), "a", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkOpen(ctx, "vm", "1234", "log-1", "sbx@p.iam.gserviceaccount.com"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"vm", "1234"} {
		rec, err := s.Append(ctx, key, all(3))
		if err != nil || rec == nil || rec.ID != "log-1" {
			t.Fatalf("append by %s = %v, %v; want taken by log-1", key, rec, err)
		}
	}
	if rec, err := s.Append(ctx, "vm", func(*store.Record, string) *incident.Appended { return nil }); err != nil || rec != nil {
		t.Errorf("an append the incident does not take = %v, %v; want nothing", rec, err)
	}
	got, err := s.Get(ctx, "log-1")
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Appended; a == nil || a.Count != 6 || a.Methods["SetIamPolicy"] != 6 {
		t.Fatalf("appended = %+v, want 6 SetIamPolicy events", a)
	}
	if v := got.View(); v.Appended == nil || v.Appended.Count != 6 {
		t.Errorf("the view shows %+v, want the 6 events", v.Appended)
	}
	// Other writers keep what was appended.
	if err := s.CommitAction(ctx, "log-1", "a", done("quarantine-tag")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := s.Finish(ctx, "log-1", "a", &incident.Report{Incident: inc("log-1"), Outcome: incident.OutcomeResolved}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "log-1")
	if got.Appended == nil || got.Appended.Count != 6 {
		t.Errorf("after other writes, appended = %+v, want the 6 events", got.Appended)
	}
	// A resolved incident takes nothing.
	if rec, err := s.Append(ctx, "vm", all(1)); err != nil || rec != nil {
		t.Errorf("append to a resolved incident = %v, %v; want nothing taken", rec, err)
	}
}
