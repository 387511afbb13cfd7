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

// setTags replaces the instance's network tags, guarded by their
// fingerprint (a 412 sends withFingerprint round again).
func setTags(ctx context.Context, c *gcp.Clients, t *Target, inst *computepb.Instance, why string, items []string) error {
	err := gcp.Wait(ctx)(c.Instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: inst.GetName(),
		RequestId:    requestID(t, why, inst.GetTags().GetFingerprint()),
		TagsResource: &computepb.Tags{Items: items, Fingerprint: inst.GetTags().Fingerprint},
	}))
	if err != nil {
		return errorf(err, "%s: set tags of %s", why, t.instanceRef())
	}
	return nil
}

// setLabels replaces the instance's labels, guarded by their fingerprint.
func setLabels(ctx context.Context, c *gcp.Clients, t *Target, inst *computepb.Instance, why string, labels map[string]string) error {
	err := gcp.Wait(ctx)(c.Instances.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: inst.GetName(),
		RequestId: requestID(t, why, inst.GetLabelFingerprint()),
		InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{
			Labels: labels, LabelFingerprint: inst.LabelFingerprint,
		},
	}))
	if err != nil {
		return errorf(err, "%s: set labels of %s", why, t.instanceRef())
	}
	return nil
}
