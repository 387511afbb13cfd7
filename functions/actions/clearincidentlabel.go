package actions

import (
	"context"
	"maps"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// ClearIncidentLabel removes the coopguard-incident label this incident
// set, so the next incident labels the VM afresh. Another incident's label
// is left alone.
type ClearIncidentLabel struct{}

// Name implements Action.
func (ClearIncidentLabel) Name() string { return "clear-incident-label" }

// Mutates implements Action.
func (ClearIncidentLabel) Mutates() bool { return true }

// Run implements Action.
func (ClearIncidentLabel) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	return withFingerprint(ctx, c, t, func(inst *computepb.Instance) (Outcome, error) {
		out := Outcome{Target: t.instanceRef()}
		if cur := inst.GetLabels()[IncidentLabel]; cur != t.Incident.LabelValue() {
			out.Result, out.Detail = incident.ResultAlready, "label is not this incident's"
			return out, nil
		}
		out.Detail = "removed " + IncidentLabel
		if t.DryRun {
			out.Result = incident.ResultDryRun
			return out, nil
		}
		labels := maps.Clone(inst.GetLabels())
		delete(labels, IncidentLabel)
		if err := setLabels(ctx, c, t, inst, "unlabel", labels); err != nil {
			return out, err
		}
		out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
		return out, nil
	})
}
