package actions

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// StartVM starts the sandbox again after a false positive.
type StartVM struct{}

// Name implements Action.
func (StartVM) Name() string { return "start-vm" }

// Mutates implements Action.
func (StartVM) Mutates() bool { return true }

// Run implements Action.
func (StartVM) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: t.instanceRef()}
	if t.Instance.GetStatus() != "TERMINATED" {
		// STAGING or RUNNING may be this restore's own start, from an
		// attempt that timed out waiting (a start takes 20 s or more).
		if ours, err := resumed(ctx, c, t, "start", &out); ours || err != nil {
			return out, err
		}
		out.Result, out.Detail = incident.ResultAlready, "VM is "+t.Instance.GetStatus()
		return out, nil
	}
	out.Detail = "was TERMINATED"
	if t.DryRun {
		out.Result = incident.ResultDryRun
		return out, nil
	}
	err := gcp.Wait(ctx)(c.Instances.Start(ctx, &computepb.StartInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName(),
		RequestId: requestID(t, "start"),
	}))
	if err != nil {
		return out, errorf(err, "start %s", t.instanceRef())
	}
	out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
	return out, nil
}
