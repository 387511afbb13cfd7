package actions

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// NATRouters returns the ids of the Cloud Routers in inst's region whose
// NAT serves its network (what collect-logs reads the VM's connections
// under), for readers outside an incident: the weekly review.
func NATRouters(ctx context.Context, c *gcp.Clients, project, zone string, inst *computepb.Instance) ([]string, error) {
	return natRouters(ctx, c, &Target{Project: project, Zone: zone, Instance: inst})
}
