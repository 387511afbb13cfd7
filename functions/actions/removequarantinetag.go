package actions

import (
	"context"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// RemoveQuarantineTag takes the coopguard-quarantine tag off, restoring
// egress.
type RemoveQuarantineTag struct{}

// Name implements Action.
func (RemoveQuarantineTag) Name() string { return "remove-quarantine-tag" }

// Mutates implements Action.
func (RemoveQuarantineTag) Mutates() bool { return true }

// Run implements Action.
func (RemoveQuarantineTag) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	return withFingerprint(ctx, c, t, func(inst *computepb.Instance) (Outcome, error) {
		out := Outcome{Target: t.instanceRef()}
		tags := inst.GetTags().GetItems()
		if !slices.Contains(tags, config.QuarantineTag) {
			out.Result, out.Detail = incident.ResultAlready, "no "+config.QuarantineTag+" tag"
			return out, nil
		}
		out.Detail = "removed tag " + config.QuarantineTag
		if t.DryRun {
			out.Result = incident.ResultDryRun
			return out, nil
		}
		kept := slices.DeleteFunc(slices.Clone(tags), func(s string) bool { return s == config.QuarantineTag })
		if err := setTags(ctx, c, t, inst, "unquarantine", kept); err != nil {
			return out, err
		}
		out.Result, out.Changed = incident.ResultDone, []string{config.QuarantineTag}
		return out, nil
	})
}
