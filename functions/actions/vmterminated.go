package actions

import (
	"context"
	"errors"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// VMTerminated is the follow-up of stop-vm: it looks at the VM once and is
// done when it is TERMINATED, pending while the guest shuts down (up to
// 90 s in GCP), and fails when this incident's stop failed or the VM runs
// again. It changes nothing; what comes after it (the snapshot, the logs)
// needs the VM stopped.
type VMTerminated struct{}

// Name implements Action.
func (VMTerminated) Name() string { return "vm-terminated" }

// Mutates implements Action.
func (VMTerminated) Mutates() bool { return false }

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
	op, err := findOperation(ctx, c, t, *requestID(t, "stop"))
	switch {
	case err != nil:
		return out, err
	case op == nil:
		return out, permanent(errors.New("VM is " + status + " and this incident requested no stop of it (stop-vm: " + t.Prior["stop-vm"].String() + ")"))
	}
	if err := operationError(op); err != nil {
		return out, permanent(errorf(err, "stop %s", t.instanceRef()))
	}
	if op.GetStatus().String() == "DONE" {
		return out, permanent(errors.New("VM is " + status + " again after this incident's stop: someone started it; contain it again or resolve the incident"))
	}
	out.Result, out.Detail = incident.ResultPending, "stop requested, VM is "+status
	return out, nil
}
