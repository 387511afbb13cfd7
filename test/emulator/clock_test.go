package emulator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

// TestHungCallEndsOnTheEmulatedClock: under GCPTime, a hung Compute call
// whose client bounds it on the emulated clock (an hour, sent as
// X-Server-Timeout) moves that clock to the deadline, and the client gives
// up with DeadlineExceeded, without an hour of real time.
func TestHungCallEndsOnTheEmulatedClock(t *testing.T) {
	const project, zone = "coopguard-demo", "us-central1-a"
	emu, ctx := startProject(t, project)
	emu.GCPTime()
	emu.Compute.SeedInstance(project, zone, &computepb.Instance{Name: proto.String("vm"), Status: proto.String("RUNNING")})
	opts := emu.OptionsAs(emulator.Operator)
	opts.Clock, opts.CallTimeout = emu.Clock, time.Hour
	c, err := gcp.New(ctx, project, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	emu.Faults.FailNext("compute.instances.get", 1, faults.Fault{Hang: true})
	before := emu.Clock.Now()
	tctx, cancel := emu.Clock.WithTimeout(ctx, time.Hour)
	defer cancel()
	_, err = c.Instances.Get(tctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung get: %v, want DeadlineExceeded", err)
	}
	if moved := emu.Clock.Now().Sub(before); moved < 59*time.Minute {
		t.Errorf("the emulated clock moved %s during the hang, want about an hour", moved)
	}
	// The next call is answered.
	if _, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm"}); err != nil {
		t.Errorf("get after the hang: %v", err)
	}
}
