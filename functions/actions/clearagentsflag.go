package actions

import (
	"context"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// ClearAgentsFlag sets coopguard-agents back to "run", so the watcher lets
// agents run again.
type ClearAgentsFlag struct{}

// Name implements Action.
func (ClearAgentsFlag) Name() string { return "clear-agents-flag" }

// Mutates implements Action.
func (ClearAgentsFlag) Mutates() bool { return true }

// Run implements Action.
func (ClearAgentsFlag) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	return withFingerprint(ctx, c, t, func(inst *computepb.Instance) (Outcome, error) {
		out := Outcome{Target: t.instanceRef()}
		if v, _ := metadataValue(inst, watcher.MetadataKey); v != "stop" && !strings.HasPrefix(v, "stop ") {
			out.Result, out.Detail = incident.ResultAlready, watcher.MetadataKey+" is not stop"
			return out, nil
		}
		out.Detail = watcher.MetadataKey + "=run"
		if t.DryRun {
			out.Result = incident.ResultDryRun
			return out, nil
		}
		if err := setAgentsFlag(ctx, c, t, inst, "run"); err != nil {
			return out, err
		}
		out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
		return out, nil
	})
}
