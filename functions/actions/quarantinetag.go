package actions

import (
	"context"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// QuarantineTag adds the coopguard-quarantine network tag, which the
// provisioned priority-0 firewall rule turns into "no egress at all"; the
// VM stays up for inspection.
type QuarantineTag struct{}

// Name implements Action.
func (QuarantineTag) Name() string { return "quarantine-tag" }

// Mutates implements Action.
func (QuarantineTag) Mutates() bool { return true }

// Run implements Action.
func (QuarantineTag) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	return withFingerprint(ctx, c, t, func(inst *computepb.Instance) (Outcome, error) {
		out := Outcome{Target: t.instanceRef()}
		tags := inst.GetTags().GetItems()
		if slices.Contains(tags, config.QuarantineTag) {
			out.Result, out.Detail = incident.ResultAlready, "tag "+config.QuarantineTag
			return out, nil
		}
		out.Detail = "tag " + config.QuarantineTag + ": egress denied"
		if t.DryRun {
			out.Result = incident.ResultDryRun
			return out, nil
		}
		if err := setTags(ctx, c, t, inst, "quarantine", append(slices.Clone(tags), config.QuarantineTag)); err != nil {
			return out, err
		}
		out.Result, out.Changed = incident.ResultDone, []string{config.QuarantineTag}
		return out, nil
	})
}
