package actions

import (
	"context"
	"maps"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// IncidentLabel marks a VM with the incident coopguard is handling on it.
const IncidentLabel = "coopguard-incident"

// LabelIncident labels the VM coopguard-incident=<id>. A VM that already
// carries an incident label keeps it: the first incident owns the
// containment until `coopguard resolve` clears it.
type LabelIncident struct{}

// Name implements Action.
func (LabelIncident) Name() string { return "label-incident" }

// Mutates implements Action.
func (LabelIncident) Mutates() bool { return true }

// Run implements Action.
func (LabelIncident) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	want := t.Incident.LabelValue()
	return withFingerprint(ctx, c, t, func(inst *computepb.Instance) (Outcome, error) {
		out := Outcome{Target: t.instanceRef()}
		if cur := inst.GetLabels()[IncidentLabel]; cur != "" {
			out.Result, out.Detail = incident.ResultAlready, IncidentLabel+"="+cur
			return out, nil
		}
		out.Detail = IncidentLabel + "=" + want
		if t.DryRun {
			out.Result = incident.ResultDryRun
			return out, nil
		}
		labels := maps.Clone(inst.GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		labels[IncidentLabel] = want
		if err := setLabels(ctx, c, t, inst, "label", labels); err != nil {
			return out, err
		}
		out.Result = incident.ResultDone
		return out, nil
	})
}
