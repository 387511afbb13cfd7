package actions_test

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// TestLongOperationsNeverWait pins issue 19 on GCP's operation times (a
// stop 90 s, a snapshot 3 min, the clock frozen and moved only by the
// test): stop-vm answers at once with the stop requested; the follow-up's
// vm-terminated is pending while the VM is STOPPING and done once it is
// TERMINATED; snapshot-disk requests the snapshot, is pending while it is
// CREATING and done, with what it changed, once READY; a redelivery's
// stop-vm mid-stop reports this incident's stop, not "already".
func TestLongOperationsNeverWait(t *testing.T) {
	emu, c, tgt := longOps(t)
	ctx := testCtx(t)
	step := func(a actions.Action, want string) actions.Outcome {
		t.Helper()
		tgt.Instance = reread(t, c, tgt)
		out, err := a.Run(ctx, c, tgt)
		if err != nil || out.Result != want {
			t.Fatalf("%s: %s %q %v, want %s", a.Name(), out.Result, out.Detail, err, want)
		}
		return out
	}
	stop := step(actions.StopVM{}, incident.ResultDone)
	if got := reread(t, c, tgt).GetStatus(); got != "STOPPING" {
		t.Fatalf("after stop-vm the VM is %s, want STOPPING (nothing waited)", got)
	}
	tgt.Prior = map[string]incident.ActionResult{"stop-vm": {Action: "stop-vm", Result: stop.Result, Changed: stop.Changed}}
	if again := step(actions.StopVM{}, incident.ResultDone); !slices.Equal(again.Changed, stop.Changed) {
		t.Errorf("redelivered stop-vm changed %v, want this incident's %v", again.Changed, stop.Changed)
	}
	step(actions.VMTerminated{}, incident.ResultPending)
	emu.Clock.Advance(60 * time.Second)
	step(actions.VMTerminated{}, incident.ResultPending)
	emu.Clock.Advance(30 * time.Second)
	step(actions.VMTerminated{}, incident.ResultDone)

	want := []string{"global/snapshots/coopguard-alert-long-ops"}
	if out := step(actions.SnapshotDisk{}, incident.ResultPending); !slices.Equal(out.Changed, want) {
		t.Errorf("snapshot requested: changed %v, want %v", out.Changed, want)
	}
	emu.Clock.Advance(time.Minute)
	step(actions.SnapshotDisk{}, incident.ResultPending)
	emu.Clock.Advance(2 * time.Minute)
	if out := step(actions.SnapshotDisk{}, incident.ResultDone); !slices.Equal(out.Changed, want) {
		t.Errorf("snapshot READY: changed %v, want %v", out.Changed, want)
	}
}

// TestVMTerminatedFailsWhenTheStopCannotEnd pins that the follow-up
// reports, rather than waits forever on, a VM this incident never stopped
// and one started again after its stop.
func TestVMTerminatedFailsWhenTheStopCannotEnd(t *testing.T) {
	emu, c, tgt := longOps(t)
	ctx := testCtx(t)
	if _, err := (actions.VMTerminated{}).Run(ctx, c, tgt); !errors.Is(err, actions.ErrPermanent) {
		t.Errorf("running VM, no stop requested: %v, want a permanent failure", err)
	}
	if _, err := (actions.StopVM{}).Run(ctx, c, tgt); err != nil {
		t.Fatal(err)
	}
	emu.Clock.Advance(2 * time.Minute)
	stop := make(chan struct{})
	go drive(emu.Clock, stop)
	err := gcp.Wait(ctx)(c.Instances.Start(ctx, &computepb.StartInstanceRequest{Project: lpProject, Zone: lpZone, Instance: "claude-sandbox"}))
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	tgt.Instance = reread(t, c, tgt)
	if _, err := (actions.VMTerminated{}).Run(ctx, c, tgt); !errors.Is(err, actions.ErrPermanent) || !strings.Contains(err.Error(), "started it") {
		t.Errorf("VM started again after the stop: %v, want a permanent failure saying so", err)
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

// TestStartVMResumesItsOwnStart pins that a restore's start-vm retried
// after a per-try timeout mid-start (a start takes 20 s in GCP) reports
// this restore's start, not "already" with nothing changed.
func TestStartVMResumesItsOwnStart(t *testing.T) {
	emu, c, tgt := longOps(t)
	stopFirst(t, emu, c, tgt)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := actions.StartVM{}.Run(ctx, c, tgt)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first attempt: %v, want a per-try timeout", err)
	}
	tgt.Instance = reread(t, c, tgt)
	out, err := actions.StartVM{}.Run(testCtx(t), c, tgt)
	if err != nil || out.Result != incident.ResultDone || !slices.Equal(out.Changed, []string{"zones/us-central1-a/instances/claude-sandbox"}) {
		t.Errorf("retry mid-start (VM %s): %s %v %v, want done with the instance changed", tgt.Instance.GetStatus(), out.Result, out.Changed, err)
	}
}
