package actions

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// withFingerprint runs fn with the target's instance and, when Compute
// answers 412 (another action or delivery changed the fingerprint first),
// re-reads the instance and runs fn again with the fresh state. fn must
// re-check state, so the second run can find there is nothing to do.
func withFingerprint(ctx context.Context, c *gcp.Clients, t *Target, fn func(inst *computepb.Instance) (Outcome, error)) (Outcome, error) {
	out, err := fn(t.Instance)
	for range 3 {
		if err == nil || !retry.IsPrecondition(err) {
			return out, err
		}
		fresh, gerr := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName()})
		if gerr != nil {
			return out, gerr
		}
		out, err = fn(fresh)
	}
	return out, err
}
