package actions

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// StopVM requests the instance's stop: the agents end with it and the disk
// is frozen for forensics. The disk and everything on it are kept. It does
// not wait for the stop, which lets the guest shut down for up to 90 s:
// the follow-up's vm-terminated sees it end.
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
		// STOPPING or TERMINATED may be this incident's own stop.
		if ours, err := resumed(ctx, c, t, "stop", &out); ours || err != nil {
			return out, err
		}
		out.Result, out.Detail = incident.ResultAlready, "VM is "+t.Instance.GetStatus()
		return out, nil
	}
	out.Detail = "was " + t.Instance.GetStatus()
	if t.DryRun {
		out.Result = incident.ResultDryRun
		return out, nil
	}
	op, err := c.Instances.Stop(ctx, &computepb.StopInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName(),
		RequestId: rid,
	})
	if err != nil {
		return out, errorf(err, "stop %s", t.instanceRef())
	}
	out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
	out.Detail = "stop requested (operation " + op.Name() + "); was " + t.Instance.GetStatus()
	return out, nil
}
