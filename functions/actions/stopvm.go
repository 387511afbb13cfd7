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
	rid := requestID(t, "stop")
	if stopped(t.Instance) {
		if !t.DryRun {
			// STOPPING or TERMINATED may be our own stop, requested by an
			// attempt that timed out or a delivery that died: finish it.
			ours, err := resumeOperation(ctx, c, t, *rid)
			if err != nil {
				return out, errorf(err, "stop %s", t.instanceRef())
			}
			if ours {
				out.Result, out.Detail, out.Changed = incident.ResultDone, "stopped (this incident's stop, resumed)", []string{t.instanceRef()}
				return out, nil
			}
		}
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
		RequestId: rid,
	}))
	if err != nil {
		return out, errorf(err, "stop %s", t.instanceRef())
	}
	out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
	return out, nil
}
