package provisioner

import (
	"context"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// subnetwork is the sandbox's subnet, with Private Google Access so the VM
// reaches Google APIs (Secret Manager, Logging) without an external IP.
type subnetwork struct{ s *Sandbox }

func (r *subnetwork) Kind() string   { return "subnetwork" }
func (r *subnetwork) Name() string   { return r.s.Subnet() }
func (r *subnetwork) Deps() []string { return []string{"network/" + r.s.Network()} }

func (r *subnetwork) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	got, err := c.Subnetworks.Get(ctx, &computepb.GetSubnetworkRequest{Project: r.s.Project, Region: r.s.Region, Subnetwork: r.Name()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: fmt.Sprintf("%s in %s, Private Google Access", r.s.SubnetCIDR, r.s.Region), Apply: r.create(c)}, nil
	case err != nil:
		return Change{}, err
	case !got.GetPrivateIpGoogleAccess():
		return Change{Action: Update, Detail: "turn on Private Google Access", Apply: func(ctx context.Context) error {
			return gcp.Wait(ctx)(c.Subnetworks.SetPrivateIpGoogleAccess(ctx, &computepb.SetPrivateIpGoogleAccessSubnetworkRequest{
				Project: r.s.Project, Region: r.s.Region, Subnetwork: r.Name(),
				RequestId: r.s.requestID("subnetwork.setPrivateIpGoogleAccess", r.s.Project, r.Name()),
				SubnetworksSetPrivateIpGoogleAccessRequestResource: &computepb.SubnetworksSetPrivateIpGoogleAccessRequest{
					PrivateIpGoogleAccess: proto.Bool(true),
				},
			}))
		}}, nil
	}
	return Change{Action: None, Detail: got.GetIpCidrRange() + ", Private Google Access"}, nil
}

func (r *subnetwork) create(c *gcp.Clients) func(context.Context) error {
	return func(ctx context.Context) error {
		return created(gcp.Wait(ctx)(c.Subnetworks.Insert(ctx, &computepb.InsertSubnetworkRequest{
			Project:   r.s.Project,
			Region:    r.s.Region,
			RequestId: r.s.requestID("subnetwork.insert", r.s.Project, r.Name(), r.s.SubnetCIDR),
			SubnetworkResource: &computepb.Subnetwork{
				Name:                  proto.String(r.Name()),
				Network:               proto.String(r.s.networkURL()),
				IpCidrRange:           proto.String(r.s.SubnetCIDR),
				PrivateIpGoogleAccess: proto.Bool(true),
				Description:           proto.String("coopguard sandbox " + r.s.Name),
			},
		})))
	}
}
