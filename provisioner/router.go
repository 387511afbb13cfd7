package provisioner

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/config"
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
		LogConfig:                     r.logConfig(),
	}
}

// logConfig is the NAT's logging as [coopguard.evidence] nat_logs asks:
// every connection (ALL), drops only (ERRORS_ONLY) or none. Incident
// reports read these entries to show where the VM connected to.
func (r *router) logConfig() *computepb.RouterNatLogConfig {
	switch r.s.NATLogs {
	case config.NATLogsOff:
		return &computepb.RouterNatLogConfig{Enable: proto.Bool(false)}
	case config.NATLogsErrors:
		return &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("ERRORS_ONLY")}
	default:
		return &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("ALL")}
	}
}

// sameLogging reports whether a NAT logs as want does: a disabled NAT
// logs nothing, whatever its filter; an unset filter means ALL (routers
// API reference).
func sameLogging(got, want *computepb.RouterNatLogConfig) bool {
	if got.GetEnable() != want.GetEnable() {
		return false
	}
	if !want.GetEnable() {
		return true
	}
	filter := func(c *computepb.RouterNatLogConfig) string {
		if c.GetFilter() == "" {
			return "ALL"
		}
		return c.GetFilter()
	}
	return filter(got) == filter(want)
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
	want := r.nat()
	detail := "add Cloud NAT " + r.s.NAT()
	nats := append(got.GetNats(), want)
	for i, n := range got.GetNats() {
		if n.GetName() != r.s.NAT() {
			continue
		}
		if sameLogging(n.GetLogConfig(), want.GetLogConfig()) {
			return Change{Action: None, Detail: "Cloud NAT " + n.GetName()}, nil
		}
		// Only the logging changes; the rest of the NAT stays as it is.
		nats = append([]*computepb.RouterNat(nil), got.GetNats()...)
		fixed := proto.Clone(n).(*computepb.RouterNat)
		fixed.LogConfig = want.GetLogConfig()
		nats[i] = fixed
		detail = "Cloud NAT " + n.GetName() + " logging: " + logging(n.GetLogConfig()) + " → " + logging(want.GetLogConfig())
		break
	}
	// Patch sets the router's nats as a whole: it keeps any others the
	// user configured.
	return Change{Action: Update, Detail: detail, Apply: func(ctx context.Context) error {
		return gcp.Wait(ctx)(c.Routers.Patch(ctx, &computepb.PatchRouterRequest{
			Project: r.s.Project, Region: r.s.Region, Router: r.Name(),
			RequestId:      r.s.requestID("router.patch", r.s.Project, r.s.Region, r.Name(), r.s.NAT(), logging(want.GetLogConfig())),
			RouterResource: &computepb.Router{Nats: nats},
		}))
	}}, nil
}

// logging says how a NAT logs, for a plan's detail.
func logging(c *computepb.RouterNatLogConfig) string {
	if !c.GetEnable() {
		return "off"
	}
	if c.GetFilter() == "" {
		return "ALL"
	}
	return c.GetFilter()
}
