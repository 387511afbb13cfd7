package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/shared/store"
)

// TestSandboxRegistry: a recorded sandbox is found by its account and
// among its project's sandboxes only; each write raises the generation;
// a record without an instance id keeps the one known; two sandboxes
// running as one account are an error, not a guess; bad records are
// refused and change nothing.
func TestSandboxRegistry(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	gen := func() int64 {
		t.Helper()
		n, err := s.FleetGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if g := gen(); g != 0 {
		t.Fatalf("generation of an empty registry = %d, want 0", g)
	}
	a := store.Registered{Project: "proj-a", Zone: "z", Name: "box", InstanceID: "11", ServiceAccount: "box@proj-a.iam.gserviceaccount.com", Network: "default", Adopted: true}
	b := store.Registered{Project: "proj-b", Zone: "z", Name: "box", ServiceAccount: "box@proj-b.iam.gserviceaccount.com", Network: "coopguard-box-net"}
	for _, r := range []store.Registered{a, b} {
		if err := s.RegisterSandbox(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if g := gen(); g != 2 {
		t.Errorf("generation after two records = %d, want 2", g)
	}
	got, ok, err := s.SandboxOfAccount(ctx, b.ServiceAccount)
	if err != nil || !ok || got.Key() != "proj-b/box" || got.Network != b.Network {
		t.Fatalf("sandbox of %s = %+v, %v, %v; want proj-b/box", b.ServiceAccount, got, ok, err)
	}
	if _, ok, err := s.SandboxOfAccount(ctx, "someone@example.com"); err != nil || ok {
		t.Errorf("sandbox of an unknown account = %v, %v; want none", ok, err)
	}
	in, err := s.SandboxesIn(ctx, "proj-a")
	if err != nil || len(in) != 1 || in[0].Key() != "proj-a/box" || !in[0].Adopted {
		t.Errorf("sandboxes in proj-a = %+v, %v; want proj-a/box only", in, err)
	}
	// A converge's record before it builds carries no instance id: the
	// one known stays.
	a.InstanceID = ""
	if err := s.RegisterSandbox(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.SandboxOfAccount(ctx, a.ServiceAccount); got.InstanceID != "11" {
		t.Errorf("instance id after a record without one = %q, want 11 kept", got.InstanceID)
	}
	all, err := s.Sandboxes(ctx)
	if err != nil || len(all) != 2 || all[0].Key() != "proj-a/box" || all[1].Key() != "proj-b/box" {
		t.Errorf("registry = %+v, %v; want proj-a/box, proj-b/box", all, err)
	}
	twin := b
	twin.Name = "twin"
	if err := s.RegisterSandbox(ctx, twin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SandboxOfAccount(ctx, b.ServiceAccount); err == nil || !strings.Contains(err.Error(), "both run as it") {
		t.Errorf("two sandboxes with one account: err = %v, want it named", err)
	}
	before := gen()
	for _, bad := range []store.Registered{
		{Project: "proj-a", Zone: "z", Name: "", ServiceAccount: "x@y"},
		{Project: "proj~a", Zone: "z", Name: "box", ServiceAccount: "x@y"},
		{Project: "proj-a", Zone: "z", Name: "box"},
	} {
		if err := s.RegisterSandbox(ctx, bad); err == nil {
			t.Errorf("record %+v accepted", bad)
		}
	}
	if g := gen(); g != before {
		t.Errorf("refused records moved the generation %d → %d", before, g)
	}
}
