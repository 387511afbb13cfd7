package provisioner

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// network is the dedicated custom-mode VPC: no default network, no
// auto-created subnets.
type network struct{ s *Sandbox }

func (r *network) Kind() string   { return "network" }
func (r *network) Name() string   { return r.s.Network() }
func (r *network) Deps() []string { return nil }

func (r *network) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	got, err := c.Networks.Get(ctx, &computepb.GetNetworkRequest{Project: r.s.Project, Network: r.Name()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: "custom-mode VPC", Apply: r.create(c)}, nil
	case err != nil:
		return Change{}, err
	case got.GetAutoCreateSubnetworks():
		// Switching an auto-mode network to custom mode is one-way and safe.
		return Change{Action: Update, Detail: "auto-mode network: switch to custom mode", Apply: func(ctx context.Context) error {
			return gcp.Wait(ctx)(c.Networks.SwitchToCustomMode(ctx, &computepb.SwitchToCustomModeNetworkRequest{
				Project: r.s.Project, Network: r.Name(), RequestId: r.s.requestID("network.switch", r.s.Project, r.Name()),
			}))
		}}, nil
	}
	return Change{Action: None, Detail: "custom-mode VPC"}, nil
}

func (r *network) create(c *gcp.Clients) func(context.Context) error {
	return func(ctx context.Context) error {
		return created(gcp.Wait(ctx)(c.Networks.Insert(ctx, &computepb.InsertNetworkRequest{
			Project:   r.s.Project,
			RequestId: r.s.requestID("network.insert", r.s.Project, r.Name()),
			NetworkResource: &computepb.Network{
				Name:                  proto.String(r.Name()),
				Description:           proto.String("coopguard sandbox " + r.s.Name + ": dedicated VPC"),
				AutoCreateSubnetworks: proto.Bool(false),
				RoutingConfig:         &computepb.NetworkRoutingConfig{RoutingMode: proto.String("REGIONAL")},
			},
		})))
	}
}
