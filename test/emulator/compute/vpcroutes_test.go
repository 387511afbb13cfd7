package compute

import (
	"context"
	"strings"
	"testing"

	gce "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
)

// TestNetworkDefaultRoute: a new network comes with GCP's default route
// (0.0.0.0/0 to the default internet gateway, priority 1000, named
// default-route-…), found by the list filter Config Connector and
// Terraform use; it goes with its network, while a static route someone
// added still holds the network; a deleted default route stays deleted;
// no route carries routeType.
func TestNetworkDefaultRoute(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	routes, err := gce.NewRoutesRESTClient(context.Background(), option.WithEndpoint(e.url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer routes.Close()
	for _, n := range []string{"net-a", "net-b"} {
		wait(t)(e.net.Insert(ctx, &computepb.InsertNetworkRequest{Project: testProject, NetworkResource: &computepb.Network{
			Name: proto.String(n), AutoCreateSubnetworks: proto.Bool(false)}}))
	}
	defaults := func(network string) []*computepb.Route {
		t.Helper()
		f := `(network="` + selfLinkBase + "projects/" + testProject + "/global/networks/" + network + `") AND (destRange="0.0.0.0/0")`
		var out []*computepb.Route
		it := routes.List(ctx, &computepb.ListRoutesRequest{Project: testProject, Filter: proto.String(f)})
		for {
			r, err := it.Next()
			if err == iterator.Done {
				return out
			}
			if err != nil {
				t.Fatalf("routes.list %s: %v", f, err)
			}
			out = append(out, r)
		}
	}
	a := defaults("net-a")
	if len(a) != 1 {
		t.Fatalf("default routes of net-a = %v, want one", a)
	}
	r := a[0]
	if !strings.HasPrefix(r.GetName(), "default-route-") || len(r.GetName()) != len("default-route-")+16 ||
		r.GetDescription() != "Default route to the Internet." || r.GetPriority() != 1000 ||
		r.GetNextHopGateway() != selfLinkBase+"projects/"+testProject+"/global/gateways/default-internet-gateway" || r.RouteType != nil {
		t.Errorf("net-a's default route = %v, want GCP's system-generated one", r)
	}
	if b := defaults("net-b"); len(b) != 1 || b[0].GetName() == r.GetName() {
		t.Errorf("default routes of net-b = %v, want one of its own", b)
	}

	// A static route of the user's holds net-b; net-a, with only its
	// default route, is deleted, and the route with it.
	wait(t)(routes.Insert(ctx, &computepb.InsertRouteRequest{Project: testProject, RouteResource: &computepb.Route{Name: proto.String("via-box"),
		Network: proto.String("global/networks/net-b"), DestRange: proto.String("10.9.0.0/16"), NextHopIp: proto.String("10.0.0.9")}}))
	got, err := routes.Get(ctx, &computepb.GetRouteRequest{Project: testProject, Route: "via-box"})
	if err != nil || got.RouteType != nil {
		t.Errorf("routes.get via-box = %v, %v; want it without routeType", got, err)
	}
	if _, err := e.net.Delete(ctx, &computepb.DeleteNetworkRequest{Project: testProject, Network: "net-b"}); err == nil || !strings.Contains(err.Error(), "already being used") {
		t.Errorf("networks.delete net-b under a static route = %v, want 400 in use", err)
	}
	wait(t)(e.net.Delete(ctx, &computepb.DeleteNetworkRequest{Project: testProject, Network: "net-a"}))
	if _, err := routes.Get(ctx, &computepb.GetRouteRequest{Project: testProject, Route: r.GetName()}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("net-a's default route after the network's delete = %v, want 404", err)
	}

	// Deleting net-b's default route leaves it without one; the network
	// recreated under the same name gets a new one.
	b := defaults("net-b")[0].GetName()
	wait(t)(routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: testProject, Route: b}))
	if d := defaults("net-b"); len(d) != 0 {
		t.Errorf("default routes of net-b after its delete = %v, want none", d)
	}
	wait(t)(e.net.Insert(ctx, &computepb.InsertNetworkRequest{Project: testProject, NetworkResource: &computepb.Network{
		Name: proto.String("net-a"), AutoCreateSubnetworks: proto.Bool(false)}}))
	if d := defaults("net-a"); len(d) != 1 || d[0].GetName() == r.GetName() {
		t.Errorf("default routes of a recreated net-a = %v, want a new one", d)
	}
}
