package actions

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// The agents flag is set by stop-agents (responder) and cleared by
// clear-agents-flag (restorer): both jobs run this file.

// setAgentsFlag sets coopguard-agents to value, keeping every other item.
func setAgentsFlag(ctx context.Context, c *gcp.Clients, t *Target, inst *computepb.Instance, value string) error {
	var items []*computepb.Items
	found := false
	for _, it := range inst.GetMetadata().GetItems() {
		if it.GetKey() == watcher.MetadataKey {
			it = &computepb.Items{Key: it.Key, Value: proto.String(value)}
			found = true
		}
		items = append(items, it)
	}
	if !found {
		items = append(items, &computepb.Items{Key: proto.String(watcher.MetadataKey), Value: proto.String(value)})
	}
	err := gcp.Wait(ctx)(c.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: inst.GetName(),
		RequestId: requestID(t, "agents-"+value, inst.GetMetadata().GetFingerprint()),
		MetadataResource: &computepb.Metadata{
			Fingerprint: inst.GetMetadata().Fingerprint,
			Items:       items,
		},
	}))
	if err != nil {
		return errorf(err, "set metadata %s=%s on %s", watcher.MetadataKey, value, t.instanceRef())
	}
	return nil
}
