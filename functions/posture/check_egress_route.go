package posture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// egressRoute: the sandbox's network leaves only through coopguard's own
// route (0.0.0.0/0 to the default internet gateway, named after the
// sandbox), and has no other route: a route coopguard did not make sends
// the sandbox's traffic somewhere else (a hijack), or is a way out whose
// deletion no rule can tie to the sandbox. Routes the network makes
// itself (its subnets', next hop the network) are left out. An adopted
// VM's network is its owner's: its routes are not checked.
type egressRoute struct{}

func (egressRoute) Name() string { return "egress-route" }

func (egressRoute) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	sb := in.Sandbox
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	if net := inst.GetLabels()[provisioner.AdoptedLabel]; net != "" {
		return pass("VM %s adopted on network %s: its routes are its owner's", sb.Name, net)
	}
	const provision = "coopguard provision --config FILE (it recreates the route and removes GCP's default one)"
	netURL := "projects/" + in.Project() + "/global/networks/" + sb.Network()
	got, err := c.Routes.Get(ctx, &computepb.GetRouteRequest{Project: in.Project(), Route: sb.EgressRoute()})
	if retry.IsNotFound(err) {
		return fail("no route "+sb.EgressRoute()+": the network "+sb.Network()+"'s way out is not coopguard's", provision)
	}
	if err != nil {
		return readError(fmt.Errorf("read route %s: %w", sb.EgressRoute(), err), "compute.routes.get")
	}
	if !provisioner.IsEgressRoute(got, in.Project(), netURL) {
		return fail(fmt.Sprintf("route %s sends %s via %s, priority %d, on %s; want 0.0.0.0/0 via the default internet gateway, priority 1000, on %s",
			sb.EgressRoute(), got.GetDestRange(), hop(got), got.GetPriority(), lastSegment(got.GetNetwork()), sb.Network()), provision)
	}
	filter := fmt.Sprintf(`network="https://www.googleapis.com/compute/v1/%s"`, netURL)
	it := c.Routes.List(ctx, &computepb.ListRoutesRequest{Project: in.Project(), Filter: proto.String(filter)})
	var foreign, names []string
	for {
		rt, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return readError(fmt.Errorf("list the routes of network %s: %w", sb.Network(), err), "compute.routes.list")
		}
		if rt.GetName() == sb.EgressRoute() || rt.GetNextHopNetwork() != "" {
			continue
		}
		foreign = append(foreign, fmt.Sprintf("%s (%s via %s, priority %d)", rt.GetName(), rt.GetDestRange(), hop(rt), rt.GetPriority()))
		names = append(names, rt.GetName())
	}
	if len(foreign) > 0 {
		return fail("network "+sb.Network()+" has routes coopguard did not make: "+strings.Join(foreign, "; "),
			"if you did not add them: gcloud compute routes delete "+strings.Join(names, " ")+" --project "+in.Project()+" --quiet; then "+provision)
	}
	return pass("network %s leaves only through %s (0.0.0.0/0 via the default internet gateway)", sb.Network(), sb.EgressRoute())
}

// hop names a route's next hop.
func hop(rt *computepb.Route) string {
	for _, h := range []string{rt.GetNextHopGateway(), rt.GetNextHopIp(), rt.GetNextHopInstance(), rt.GetNextHopIlb(), rt.GetNextHopVpnTunnel(), rt.GetNextHopNetwork()} {
		if h != "" {
			return lastSegment(h)
		}
	}
	return "no next hop"
}
