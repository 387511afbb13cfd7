package functions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/apierror"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/shared/events"
)

// withVMState sets what the Compute API says of the sandbox's VM (its
// status, last stop and start) on sb, for the rule on key reads while the
// VM is off. It asks only when the entry needs it (detect.NeedsVMStatus:
// the sandbox's own account reading its key) and sb's VM state is not
// known yet. A VM that does not exist leaves the state unknown; any other
// failure is returned, so the entry is redelivered.
func withVMState(ctx context.Context, e *Env, entry events.LogEntry, sb detect.Sandbox) (detect.Sandbox, error) {
	if sb.VMStatus != "" || sb.InstanceName == "" || !detect.NeedsVMStatus(entry, sb) {
		return sb, nil
	}
	g := e.Config.Cloud.GCP
	project, zone := cmp.Or(sb.Project, g.Project), cmp.Or(sb.Zone, g.Zone)
	inst, err := e.Clients.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: sb.InstanceName})
	var ae *apierror.APIError
	if errors.As(err, &ae) && ae.HTTPCode() == http.StatusNotFound {
		return sb, nil
	}
	if err != nil {
		return sb, fmt.Errorf("read the status of the sandbox VM %s in %s/%s: %w", sb.InstanceName, project, zone, err)
	}
	setVMState(&sb, inst)
	return sb, nil
}

// setVMState copies inst's status and its last stop and start times to sb.
func setVMState(sb *detect.Sandbox, inst *computepb.Instance) {
	sb.VMStatus = inst.GetStatus()
	sb.VMStoppedAt, _ = time.Parse(time.RFC3339Nano, inst.GetLastStopTimestamp())
	sb.VMStartedAt, _ = time.Parse(time.RFC3339Nano, inst.GetLastStartTimestamp())
}
