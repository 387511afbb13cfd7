package provisioner

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// router is the Cloud Router carrying the Cloud NAT that gives the VM
// egress although it has no external IP.
type router struct{ s *Sandbox }

func (r *router) Kind() string   { return "router" }
func (r *router) Name() string   { return r.s.Router() }
func (r *router) Deps() []string { return []string{"network/" + r.s.Network()} }

func (r *router) nat() *computepb.RouterNat {
	return &computepb.RouterNat{
		Name:                          proto.String(r.s.NAT()),
		NatIpAllocateOption:           proto.String("AUTO_ONLY"),
		SourceSubnetworkIpRangesToNat: proto.String("ALL_SUBNETWORKS_ALL_IP_RANGES"),
		LogConfig:                     &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("ERRORS_ONLY")},
	}
}

func (r *router) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	got, err := c.Routers.Get(ctx, &computepb.GetRouterRequest{Project: r.s.Project, Region: r.s.Region, Router: r.Name()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: "Cloud Router with Cloud NAT " + r.s.NAT(), Apply: func(ctx context.Context) error {
			return created(gcp.Wait(ctx)(c.Routers.Insert(ctx, &computepb.InsertRouterRequest{
				Project: r.s.Project, Region: r.s.Region,
				RequestId: r.s.requestID("router.insert", r.s.Project, r.s.Region, r.Name()),
				RouterResource: &computepb.Router{
					Name:    proto.String(r.Name()),
					Network: proto.String(r.s.networkURL()),
					Nats:    []*computepb.RouterNat{r.nat()},
				},
			})))
		}}, nil
	case err != nil:
		return Change{}, err
	}
	for _, n := range got.GetNats() {
		if n.GetName() == r.s.NAT() {
			return Change{Action: None, Detail: "Cloud NAT " + n.GetName()}, nil
		}
	}
	// Patch adds the NAT and keeps any others the user configured.
	nats := append(got.GetNats(), r.nat())
	return Change{Action: Update, Detail: "add Cloud NAT " + r.s.NAT(), Apply: func(ctx context.Context) error {
		return gcp.Wait(ctx)(c.Routers.Patch(ctx, &computepb.PatchRouterRequest{
			Project: r.s.Project, Region: r.s.Region, Router: r.Name(),
			RequestId:      r.s.requestID("router.patch", r.s.Project, r.s.Region, r.Name(), r.s.NAT()),
			RouterResource: &computepb.Router{Nats: nats},
		}))
	}}, nil
}
