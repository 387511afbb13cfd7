package actions_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

const (
	lpProject = "coopguard-demo"
	lpZone    = "us-central1-a"
)

// longOps is an emulated project whose operations take GCP's time on a
// frozen clock, with one running sandbox VM.
func longOps(t *testing.T) (*emulator.Emulator, *gcp.Clients, *actions.Target) {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	emu.Clock.Set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	emu.Compute.SetProfile(compute.GCPLike())
	c, err := emu.Clients(context.Background(), lpProject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	inst := emu.Compute.SeedInstance(lpProject, lpZone, &computepb.Instance{
		Name:   proto.String("claude-sandbox"),
		Labels: map[string]string{"coopguard-sandbox": "claude-sandbox"},
	})
	return emu, c, &actions.Target{Project: lpProject, Zone: lpZone, Instance: inst, Now: emu.Clock.Now,
		Incident: incident.Incident{ID: "alert-long-ops", Trigger: "test", Playbook: incident.PlaybookContain}}
}

// drive moves the frozen clock along until stop is closed, so waits on
// the emulated GCP end without the test sleeping.
func drive(clock *emulator.Clock, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
			clock.Advance(time.Second)
		}
	}
}

// TestLongOperationsResume pins that stop-vm and snapshot-disk, when an
// attempt times out mid-operation (the per-try timeout is shorter than a
// GCP stop or snapshot), report on retry or redelivery the change this
// incident made ("done" with what changed), not "already" with nothing.
func TestLongOperationsResume(t *testing.T) {
	cases := []struct {
		name    string
		action  actions.Action
		prepare func(t *testing.T, emu *emulator.Emulator, c *gcp.Clients, tgt *actions.Target)
		// midway is how far the clock moves between the timed-out attempt
		// and the retry.
		midway  time.Duration
		result  string
		changed []string
	}{
		{name: "stop-vm retried mid-stop", action: actions.StopVM{}, midway: 30 * time.Second,
			result: incident.ResultDone, changed: []string{"zones/us-central1-a/instances/claude-sandbox"}},
		{name: "stop-vm retried after the stop ended", action: actions.StopVM{}, midway: 2 * time.Minute,
			result: incident.ResultDone, changed: []string{"zones/us-central1-a/instances/claude-sandbox"}},
		{name: "snapshot-disk retried while CREATING", action: actions.SnapshotDisk{}, midway: time.Minute,
			prepare: stopFirst,
			result:  incident.ResultDone, changed: []string{"global/snapshots/coopguard-alert-long-ops"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu, c, tgt := longOps(t)
			if tc.prepare != nil {
				tc.prepare(t, emu, c, tgt)
			}
			// The first attempt's per-try timeout ends it mid-operation.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			_, err := tc.action.Run(ctx, c, tgt)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("first attempt: %v, want a per-try timeout", err)
			}
			emu.Clock.Advance(tc.midway)
			view := *tgt
			view.Instance = reread(t, c, tgt)
			stop := make(chan struct{})
			go drive(emu.Clock, stop)
			out, err := tc.action.Run(testCtx(t), c, &view)
			close(stop)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if out.Result != tc.result || !slices.Equal(out.Changed, tc.changed) {
				t.Errorf("retry: %s %v (%s), want %s %v", out.Result, out.Changed, out.Detail, tc.result, tc.changed)
			}
		})
	}
}

// TestStoppedByOthersIsAlready pins that a VM this incident did not stop
// is reported "already", with nothing changed.
func TestStoppedByOthersIsAlready(t *testing.T) {
	emu, c, tgt := longOps(t)
	stopFirst(t, emu, c, tgt)
	out, err := actions.StopVM{}.Run(testCtx(t), c, tgt)
	if err != nil || out.Result != incident.ResultAlready || len(out.Changed) != 0 {
		t.Errorf("VM stopped by an operator: %s %v %v, want already and nothing changed", out.Result, out.Changed, err)
	}
}

// stopFirst stops the VM as an operator would and waits for it.
func stopFirst(t *testing.T, emu *emulator.Emulator, c *gcp.Clients, tgt *actions.Target) {
	t.Helper()
	stop := make(chan struct{})
	go drive(emu.Clock, stop)
	err := gcp.Wait(testCtx(t))(c.Instances.Stop(testCtx(t), &computepb.StopInstanceRequest{Project: lpProject, Zone: lpZone, Instance: "claude-sandbox"}))
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	tgt.Instance = reread(t, c, tgt)
}

func reread(t *testing.T, c *gcp.Clients, tgt *actions.Target) *computepb.Instance {
	t.Helper()
	inst, err := c.Instances.Get(testCtx(t), &computepb.GetInstanceRequest{Project: lpProject, Zone: lpZone, Instance: "claude-sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
