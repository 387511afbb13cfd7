package actions

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// StopVM stops the instance: the agents end with it and the disk is frozen
// for forensics. The disk and everything on it are kept.
type StopVM struct{}

// Name implements Action.
func (StopVM) Name() string { return "stop-vm" }

// Mutates implements Action.
func (StopVM) Mutates() bool { return true }

// Run implements Action.
func (StopVM) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: t.instanceRef()}
	if stopped(t.Instance) {
		out.Result, out.Detail = incident.ResultAlready, "VM is "+t.Instance.GetStatus()
		return out, nil
	}
	out.Detail = "was " + t.Instance.GetStatus()
	if t.DryRun {
		out.Result = incident.ResultDryRun
		return out, nil
	}
	err := gcp.Wait(ctx)(c.Instances.Stop(ctx, &computepb.StopInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName(),
		RequestId: requestID(t, "stop"),
	}))
	if err != nil {
		return out, errorf(err, "stop %s", t.instanceRef())
	}
	out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
	return out, nil
}
