package attack

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// routeScenarios are the catalogue's route techniques on the sandbox's
// network (Elastic's defense_evasion_gcp_virtual_private_cloud_route_deleted
// and _created): coopguard's egress route deleted by someone else
// (notified: the next converge puts it back) or by the sandbox's own
// account (contained), and a route added by the sandbox's account to send
// its traffic through a box of its choosing (contained). A route someone
// else adds on the sandbox's network is sandbox-network-rerouted. The
// benign counterpart deletes routes of the team's own network, the one
// GCP made with it among them: nothing coopguard owns.
func routeScenarios() []Scenario {
	return []Scenario{
		{Name: "sandbox-egress-route-deleted", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-route-deleted",
			Summary: "deletes coopguard's route out of the sandbox's network (0.0.0.0/0 via the default internet gateway), cutting its NAT and Google API access: routes.delete (allowed)",
			Act: func(ctx context.Context, w *World) error {
				return w.deleteRoute(ctx, w.Operator, w.Sandbox.EgressRoute())
			}},
		{Name: "egress-route-delete", Kind: Attack, Actor: actorSandbox, Counterpart: "operator-team-route-deleted",
			Summary: "deletes coopguard's route out of its own network: routes.delete (refused)",
			Act: func(ctx context.Context, w *World) error {
				_, err := w.Agent.Routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: w.Cfg.Cloud.GCP.Project, Route: w.Sandbox.EgressRoute()})
				return refused(err, "routes.delete "+w.Sandbox.EgressRoute())
			}},
		{Name: "route-hijack", Kind: Attack, Actor: actorSandbox, Counterpart: "operator-team-route-deleted",
			Summary: "sends its network's traffic for anywhere through a box of its choosing, past the NAT: routes.insert 0.0.0.0/0 priority 0 on its network (refused)",
			Act: func(ctx context.Context, w *World) error {
				_, err := w.Agent.Routes.Insert(ctx, &computepb.InsertRouteRequest{Project: w.Cfg.Cloud.GCP.Project, RouteResource: &computepb.Route{
					Name: proto.String("via-agent-box"), Network: proto.String("global/networks/" + w.Sandbox.Network()),
					DestRange: proto.String("0.0.0.0/0"), Priority: proto.Uint32(0), NextHopIp: proto.String("10.128.0.99")}})
				return refused(err, "routes.insert via-agent-box")
			}},
		{Name: "operator-team-route-deleted", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-egress-route-deleted",
			Summary: "adds and deletes a route on the team's own network, then deletes the default route GCP made with it (not the sandbox's): routes.insert, routes.delete",
			Act: func(ctx context.Context, w *World) error {
				if err := w.insertNetwork(ctx, "team-net"); err != nil {
					return err
				}
				op, err := w.Operator.Routes.Insert(ctx, &computepb.InsertRouteRequest{Project: w.Cfg.Cloud.GCP.Project, RouteResource: &computepb.Route{
					Name: proto.String("team-egress"), Network: proto.String("global/networks/team-net"), DestRange: proto.String("0.0.0.0/0"),
					NextHopGateway: proto.String(provisioner.InternetGateway)}})
				if err == nil {
					err = op.Wait(ctx)
				}
				if err != nil {
					return allowed(err, "routes.insert team-egress")
				}
				if err := w.deleteRoute(ctx, w.Operator, "team-egress"); err != nil {
					return err
				}
				name, err := w.defaultRouteOf(ctx, "team-net")
				if err != nil {
					return err
				}
				return w.deleteRoute(ctx, w.Operator, name)
			}},
	}
}

// deleteRoute deletes the route name through c's official Routes client.
func (w *World) deleteRoute(ctx context.Context, c *gcp.Clients, name string) error {
	op, err := c.Routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: w.Cfg.Cloud.GCP.Project, Route: name})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "routes.delete "+name)
}

// defaultRouteOf finds the default route GCP made with network, as
// Terraform and Config Connector find it: routes.list by network and
// 0.0.0.0/0.
func (w *World) defaultRouteOf(ctx context.Context, network string) (string, error) {
	p := w.Cfg.Cloud.GCP.Project
	f := fmt.Sprintf(`(network="https://www.googleapis.com/compute/v1/projects/%s/global/networks/%s") AND (destRange="0.0.0.0/0")`, p, network)
	it := w.Operator.Routes.List(ctx, &computepb.ListRoutesRequest{Project: p, Filter: proto.String(f)})
	for {
		r, err := it.Next()
		if err == iterator.Done {
			return "", fmt.Errorf("network %s has no default route: GCP makes one with every network", network)
		}
		if err != nil {
			return "", allowed(err, "routes.list "+f)
		}
		if strings.HasPrefix(r.GetName(), "default-route-") {
			return r.GetName(), nil
		}
	}
}
