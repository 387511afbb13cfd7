package compute

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	gce "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// testClock is a frozen clock tests move. (The emulator's own Clock lives
// in a package that imports this one.)
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// timedEnv is a fake on a frozen clock with the GCP-like profile.
func timedEnv(t *testing.T) (*env, *testClock) {
	t.Helper()
	e := newEnv(t)
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.srv.SetClock(clk.Now)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, nil)
	e.srv.SetProfile(GCPLike())
	return e, clk
}

// TestOperationsTakeTime pins that stop, start and createSnapshot take
// their profile's time on the emulator's clock: RUNNING from the
// answer on (as recorded), then DONE, while the resource shows GCP's intermediate status.
func TestOperationsTakeTime(t *testing.T) {
	type step struct {
		after      time.Duration // clock moved since the request
		opStatus   computepb.Operation_Status
		resStatus  string
		checkStamp bool
	}
	cases := []struct {
		name  string
		setup func(ctx context.Context, t *testing.T, e *env, clk *testClock)
		call  func(ctx context.Context, e *env) (*gce.Operation, error)
		read  func(ctx context.Context, e *env) (string, error)
		steps []step
	}{
		{
			name: "stop passes through STOPPING for the guest's shutdown",
			call: func(ctx context.Context, e *env) (*gce.Operation, error) {
				return e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
			},
			read: instanceStatus,
			steps: []step{
				{0, computepb.Operation_RUNNING, "STOPPING", false},
				{30 * time.Second, computepb.Operation_RUNNING, "STOPPING", false},
				{89 * time.Second, computepb.Operation_RUNNING, "STOPPING", false},
				{90 * time.Second, computepb.Operation_DONE, "TERMINATED", true},
			},
		},
		{
			name: "start passes through STAGING",
			setup: func(ctx context.Context, t *testing.T, e *env, clk *testClock) {
				op, err := e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
				if err != nil {
					t.Fatal(err)
				}
				clk.Advance(90 * time.Second)
				if err := op.Poll(ctx); err != nil || !op.Done() {
					t.Fatalf("stop not done: %v", err)
				}
			},
			call: func(ctx context.Context, e *env) (*gce.Operation, error) {
				return e.inst.Start(ctx, &computepb.StartInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
			},
			read: instanceStatus,
			steps: []step{
				{0, computepb.Operation_RUNNING, "STAGING", false},
				{10 * time.Second, computepb.Operation_RUNNING, "STAGING", false},
				{20 * time.Second, computepb.Operation_DONE, "RUNNING", true},
			},
		},
		{
			name: "snapshot is CREATING for minutes",
			call: func(ctx context.Context, e *env) (*gce.Operation, error) {
				return e.disk.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: testProject, Zone: testZone, Disk: "web-1",
					SnapshotResource: &computepb.Snapshot{Name: proto.String("snap-1")}})
			},
			read: func(ctx context.Context, e *env) (string, error) {
				s, err := e.snap.Get(ctx, &computepb.GetSnapshotRequest{Project: testProject, Snapshot: "snap-1"})
				return s.GetStatus(), err
			},
			steps: []step{
				{0, computepb.Operation_RUNNING, "CREATING", false},
				{time.Minute, computepb.Operation_RUNNING, "CREATING", false},
				{3 * time.Minute, computepb.Operation_DONE, "READY", false},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, clk := timedEnv(t)
			ctx := testCtx(t)
			if tc.setup != nil {
				tc.setup(ctx, t, e, clk)
			}
			start := clk.Now()
			op, err := tc.call(ctx, e)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			for i, s := range tc.steps {
				clk.Advance(start.Add(s.after).Sub(clk.Now()))
				if i > 0 {
					if err := op.Poll(ctx); err != nil {
						t.Fatalf("poll at +%v: %v", s.after, err)
					}
				}
				if got := op.Proto().GetStatus(); got != s.opStatus {
					t.Errorf("at +%v operation %v, want %v", s.after, got, s.opStatus)
				}
				got, err := tc.read(ctx, e)
				if err != nil || got != s.resStatus {
					t.Errorf("at +%v resource %q (%v), want %q", s.after, got, err, s.resStatus)
				}
				if s.checkStamp {
					if end := op.Proto().GetEndTime(); end != timestamp(start.Add(s.after)) {
						t.Errorf("endTime %s, want %s", end, timestamp(start.Add(s.after)))
					}
				}
			}
		})
	}
}

func instanceStatus(ctx context.Context, e *env) (string, error) {
	inst, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
	return inst.GetStatus(), err
}

// TestStartWhileStopping pins that a start of a VM still STOPPING is
// refused as not ready, and that a second stop ends with the first.
func TestStartWhileStopping(t *testing.T) {
	e, clk := timedEnv(t)
	ctx := testCtx(t)
	first, err := e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(60 * time.Second)
	_, err = e.inst.Start(ctx, &computepb.StartInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
	if code, reason := apiCode(t, err); code != http.StatusBadRequest || reason != "resourceNotReady" {
		t.Errorf("start while STOPPING: %d %s, want 400 resourceNotReady", code, reason)
	}
	second, err := e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	for _, op := range []*gce.Operation{first, second} {
		if err := op.Poll(ctx); err != nil || !op.Done() {
			t.Errorf("stop %s at +90s: done=%v %v", op.Name(), op.Done(), err)
		}
	}
}

// TestOperationWait pins zoneOperations.wait: it answers as soon as the
// operation is DONE, and otherwise after two minutes with the operation
// still running.
func TestOperationWait(t *testing.T) {
	cases := []struct {
		name     string
		profile  time.Duration
		wantDone bool
		wantMax  time.Duration
	}{
		{"answers when DONE", 90 * time.Second, true, 91 * time.Second},
		{"answers after two minutes", 10 * time.Minute, false, waitDeadline + time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, clk := timedEnv(t)
			e.srv.SetProfile(Profile{Methods: map[string]time.Duration{"compute.instances.stop": tc.profile}})
			ctx := testCtx(t)
			op, err := e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
			if err != nil {
				t.Fatal(err)
			}
			start := clk.Now()
			type result struct {
				op  *computepb.Operation
				err error
			}
			got := make(chan result, 1)
			go func() {
				w, err := e.zops.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: testProject, Zone: testZone, Operation: op.Name()})
				got <- result{w, err}
			}()
			// Drive the clock until wait answers.
			for {
				select {
				case r := <-got:
					if r.err != nil {
						t.Fatalf("wait: %v", r.err)
					}
					if done := r.op.GetStatus() == computepb.Operation_DONE; done != tc.wantDone {
						t.Errorf("wait answered %v, want done=%v", r.op.GetStatus(), tc.wantDone)
					}
					if took := clk.Now().Sub(start); took > tc.wantMax {
						t.Errorf("wait answered after %v, want at most %v", took, tc.wantMax)
					}
					return
				case <-time.After(time.Millisecond):
					clk.Advance(100 * time.Millisecond)
				}
			}
		})
	}
}

// TestWaitAdvancesVirtualTime pins the harness's virtual time
// (AdvanceOnWait): a wait on a 90 s stop answers DONE with the clock moved
// to the stop's end, and an operation nobody waits for stays where the
// clock left it.
func TestWaitAdvancesVirtualTime(t *testing.T) {
	e, clk := timedEnv(t)
	e.srv.AdvanceOnWait(func(to time.Time) {
		clk.mu.Lock()
		defer clk.mu.Unlock()
		if to.After(clk.t) {
			clk.t = to
		}
	})
	ctx := testCtx(t)
	start := clk.Now()
	op, err := e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(start); got != 90*time.Second {
		t.Errorf("the wait moved the clock %v, want the stop's 90 s", got)
	}
	if got, _ := instanceStatusOf(ctx, e, "web-1"); got != "TERMINATED" {
		t.Errorf("waited-for VM is %s, want TERMINATED", got)
	}
	if _, err := e.inst.Start(ctx, &computepb.StartInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := instanceStatusOf(ctx, e, "web-1"); got != "STAGING" {
		t.Errorf("a start nobody waits for: VM is %s, want STAGING until the clock moves", got)
	}
}

func instanceStatusOf(ctx context.Context, e *env, name string) (string, error) {
	inst, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: name})
	return inst.GetStatus(), err
}
