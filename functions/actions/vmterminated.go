package actions

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// VMTerminated is the follow-up of stop-vm: it looks at the VM once and is
// done when it is TERMINATED, pending while the guest shuts down (up to
// 90 s in GCP). stop-vm does not wait for its operation, so an operation
// that ended in error is met here: the stop is requested again (at most
// maxStopRequests times in all), and the step fails only when the stops
// keep failing, this incident requested none, or the VM runs again after
// its stop (someone started it).
type VMTerminated struct{}

// maxStopRequests bounds the stops one incident requests.
const maxStopRequests = 5

// Name implements Action.
func (VMTerminated) Name() string { return "vm-terminated" }

// Mutates implements Action: it may request the stop again.
func (VMTerminated) Mutates() bool { return true }

// Run implements Action.
func (VMTerminated) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: t.instanceRef()}
	status := t.Instance.GetStatus()
	switch status {
	case "TERMINATED", "STOPPED", "SUSPENDED":
		// Done when this incident stopped it; a VM stopped before is
		// "already".
		out.Result, out.Detail = incident.ResultAlready, "VM is "+status
		if t.Prior["stop-vm"].Result == incident.ResultDone {
			out.Result = incident.ResultDone
		}
		if ts := t.Instance.GetLastStopTimestamp(); ts != "" {
			out.Detail += " since " + ts
		}
		return out, nil
	case "STOPPING", "SUSPENDING":
		out.Result, out.Detail = incident.ResultPending, "VM is "+status+": the guest shuts down (up to 90 s)"
		return out, nil
	}
	if t.DryRun {
		out.Result, out.Detail = incident.ResultDryRun, "would wait for the VM to be TERMINATED"
		return out, nil
	}
	// This incident's stops, each requested after the one before failed.
	op, next, requested, failed, err := requestChain(ctx, c, t, *requestID(t, "stop"))
	switch {
	case err != nil:
		return out, err
	case requested == 0:
		return out, permanent(errors.New("VM is " + status + " and this incident requested no stop of it (stop-vm: " + t.Prior["stop-vm"].String() + ")"))
	case failed != nil && requested >= maxStopRequests:
		return out, permanent(fmt.Errorf("%d stops of %s failed, the last: %w; stop it by hand (gcloud compute instances stop %s --zone %s)", requested, t.instanceRef(), failed, t.Instance.GetName(), t.Zone))
	case failed != nil:
		again, err := c.Instances.Stop(ctx, &computepb.StopInstanceRequest{
			Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName(), RequestId: &next,
		})
		if err != nil {
			return out, errorf(err, "stop %s again", t.instanceRef())
		}
		out.Result, out.Changed = incident.ResultPending, []string{t.instanceRef()}
		out.Detail = fmt.Sprintf("stop requested again (operation %s) after the last one failed: %v", again.Name(), failed)
		return out, nil
	case op.GetStatus() == computepb.Operation_DONE:
		return out, permanent(errors.New("VM is " + status + " again after this incident's stop: someone started it; contain it again or resolve the incident"))
	}
	out.Result, out.Detail = incident.ResultPending, "stop requested, VM is "+status
	return out, nil
}
