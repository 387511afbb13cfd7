package provisioner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// InternetGateway is the next hop of the sandbox's egress route, as a
// route names it relative to the project.
const InternetGateway = "global/gateways/default-internet-gateway"

// computeBase prefixes the full URLs Compute writes in a route's network
// and next hop.
const computeBase = "https://www.googleapis.com/compute/v1/"

// egressRoute is the sandbox network's way out: 0.0.0.0/0 to the default
// internet gateway, which Cloud NAT (https://cloud.google.com/nat/docs/nat-product-interactions)
// and Private Google Access with the default domains
// (https://cloud.google.com/vpc/docs/configure-private-google-access) both
// route through. GCP gives every new network such a route under a
// generated name (default-route-…), which "can be removed or replaced"
// (https://cloud.google.com/vpc/docs/routes); coopguard replaces it with
// its own, named after the sandbox, as Terraform's
// delete_default_routes_on_create and Config Connector's
// deleteDefaultRoutesOnCreate do. Then every route of the network is
// either coopguard's, whose delete's audit entry names it, or one someone
// added, whose insert's entry names the network: both are tied to the
// sandbox (a delete's entry names only the route).
type egressRoute struct{ s *Sandbox }

func (r *egressRoute) Kind() string   { return "route" }
func (r *egressRoute) Name() string   { return r.s.EgressRoute() }
func (r *egressRoute) Deps() []string { return []string{"network/" + r.s.Network()} }

// desired is the route as coopguard wants it.
func (r *egressRoute) desired() *computepb.Route {
	return &computepb.Route{
		Name:           proto.String(r.Name()),
		Description:    proto.String("coopguard sandbox " + r.s.Name + ": the network's only way out (Cloud NAT, Private Google Access)"),
		Network:        proto.String(r.s.networkURL()),
		DestRange:      proto.String("0.0.0.0/0"),
		NextHopGateway: proto.String("projects/" + r.s.Project + "/" + InternetGateway),
		Priority:       proto.Uint32(1000),
	}
}

// IsEgressRoute reports whether rt sends everything (0.0.0.0/0) to the
// default internet gateway of project, from the network at networkURL.
func IsEgressRoute(rt *computepb.Route, project, networkURL string) bool {
	return rt.GetDestRange() == "0.0.0.0/0" && rt.GetPriority() == 1000 &&
		sameRef(rt.GetNetwork(), networkURL) && sameRef(rt.GetNextHopGateway(), "projects/"+project+"/"+InternetGateway)
}

// sameRef reports whether two Compute references name the same resource,
// whether as a full URL or relative to the API.
func sameRef(a, b string) bool {
	trim := func(s string) string {
		if i := strings.Index(s, "/projects/"); i >= 0 {
			return s[i+1:]
		}
		return s
	}
	return trim(a) == trim(b)
}

// others lists the network's other routes to everywhere through the
// default internet gateway: GCP's generated default route, or one made
// like it.
func (r *egressRoute) others(ctx context.Context, c *gcp.Clients) ([]string, error) {
	filter := fmt.Sprintf(`(network="%s") AND (destRange="0.0.0.0/0")`, computeBase+r.s.networkURL())
	it := c.Routes.List(ctx, &computepb.ListRoutesRequest{Project: r.s.Project, Filter: proto.String(filter)})
	var out []string
	for {
		rt, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list the routes of network %s: %w", r.s.Network(), err)
		}
		if rt.GetName() != r.Name() && sameRef(rt.GetNextHopGateway(), "projects/"+r.s.Project+"/"+InternetGateway) {
			out = append(out, rt.GetName())
		}
	}
}

func (r *egressRoute) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	want := r.desired()
	got, err := c.Routes.Get(ctx, &computepb.GetRouteRequest{Project: r.s.Project, Route: r.Name()})
	missing := retry.IsNotFound(err)
	if err != nil && !missing {
		return Change{}, err
	}
	others, err := r.others(ctx, c)
	if err != nil {
		return Change{}, err
	}
	wrong := !missing && !IsEgressRoute(got, r.s.Project, r.s.networkURL())
	if !missing && !wrong && len(others) == 0 {
		return Change{Action: None, Detail: "0.0.0.0/0 via the default internet gateway, the network's only default route"}, nil
	}
	var detail []string
	action := Update
	switch {
	case missing:
		action = Create
		detail = append(detail, "0.0.0.0/0 via the default internet gateway")
	case wrong:
		detail = append(detail, fmt.Sprintf("was %s via %s, priority %d: recreate", got.GetDestRange(), nextHop(got), got.GetPriority()))
	}
	if len(others) > 0 {
		detail = append(detail, "delete the network's other default route "+strings.Join(others, ", "))
	} else if missing {
		detail = append(detail, "in place of GCP's default route")
	}
	return Change{Action: action, Detail: strings.Join(detail, "; "), Apply: func(ctx context.Context) error {
		if wrong {
			// Routes cannot be changed in place: delete, then insert.
			err := gcp.Wait(ctx)(c.Routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: r.s.Project, Route: r.Name(),
				RequestId: r.s.requestID("route.delete", r.s.Project, r.Name())}))
			if err != nil && !retry.IsNotFound(err) {
				return fmt.Errorf("delete route %s to recreate it: %w", r.Name(), err)
			}
		}
		if missing || wrong {
			if err := created(gcp.Wait(ctx)(c.Routes.Insert(ctx, &computepb.InsertRouteRequest{Project: r.s.Project, RouteResource: want,
				RequestId: r.s.requestID("route.insert", r.s.Project, r.Name())}))); err != nil {
				return err
			}
		}
		// Only once coopguard's route is there: the network is never
		// without a way out. Listed again, as the network may be new.
		others, err := r.others(ctx, c)
		if err != nil {
			return err
		}
		for _, o := range others {
			err := gcp.Wait(ctx)(c.Routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: r.s.Project, Route: o,
				RequestId: r.s.requestID("route.delete", r.s.Project, o)}))
			if err != nil && !retry.IsNotFound(err) {
				return fmt.Errorf("delete route %s, the network's other default route: %w", o, err)
			}
		}
		return nil
	}}, nil
}

// nextHop names a route's next hop, for a plan's detail.
func nextHop(rt *computepb.Route) string {
	for _, h := range []string{rt.GetNextHopGateway(), rt.GetNextHopIp(), rt.GetNextHopInstance(), rt.GetNextHopIlb(),
		rt.GetNextHopVpnTunnel(), rt.GetNextHopNetwork()} {
		if h != "" {
			return lastSegment(h)
		}
	}
	return "no next hop"
}
