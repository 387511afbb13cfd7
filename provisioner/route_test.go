package provisioner_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// TestEgressRouteReplacesDefault: Provision gives the sandbox's network
// its own route out, coopguard-<name>-egress, and removes the default
// route GCP made with the network, so the network has no other; a
// converge of the intact sandbox plans nothing for it; after someone
// deletes it and adds a default route of their own, the next converge
// puts it back and removes theirs. A route on another network is left
// alone.
func TestEgressRouteReplacesDefault(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	pr := cfg.Cloud.GCP.Project
	sb, err := provisioner.NewSandbox(&cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	op, err := emu.Clients(ctx, pr)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if err := gcp.Wait(ctx)(op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: pr,
		NetworkResource: &computepb.Network{Name: proto.String("team-net"), AutoCreateSubnetworks: proto.Bool(false)}})); err != nil {
		t.Fatal(err)
	}
	routesOf := func(network string) []string {
		t.Helper()
		f := `network="https://www.googleapis.com/compute/v1/projects/` + pr + `/global/networks/` + network + `"`
		it := op.Routes.List(ctx, &computepb.ListRoutesRequest{Project: pr, Filter: proto.String(f)})
		var out []string
		for {
			r, err := it.Next()
			if err == iterator.Done {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.GetName())
		}
	}
	converge := func() *provisioner.Report {
		t.Helper()
		rep, err := p.Converge(ctx, provisioner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	routeResult := func(rep *provisioner.Report) provisioner.Result {
		t.Helper()
		for _, r := range rep.Resources {
			if r.Kind == "route" {
				return r
			}
		}
		t.Fatalf("no route in the converge report")
		return provisioner.Result{}
	}
	if r := routeResult(converge()); r.Action != provisioner.Create || r.Status == provisioner.StatusFailed {
		t.Errorf("first converge: route %s %s (%s), want created", r.Name, r.Action, r.Error)
	}
	if got := routesOf(sb.Network()); !slices.Equal(got, []string{sb.EgressRoute()}) {
		t.Fatalf("routes of %s = %v, want only %s", sb.Network(), got, sb.EgressRoute())
	}
	rt, err := op.Routes.Get(ctx, &computepb.GetRouteRequest{Project: pr, Route: sb.EgressRoute()})
	if err != nil || !provisioner.IsEgressRoute(rt, pr, "projects/"+pr+"/global/networks/"+sb.Network()) {
		t.Fatalf("route %s = %v, %v; want 0.0.0.0/0 via the default internet gateway", sb.EgressRoute(), rt, err)
	}
	if got := routesOf("team-net"); len(got) != 1 || !strings.HasPrefix(got[0], "default-route-") {
		t.Errorf("routes of team-net = %v, want its own default route left alone", got)
	}
	if r := routeResult(converge()); r.Action != provisioner.None {
		t.Errorf("converge of the intact sandbox: route %s, want none (%s)", r.Action, r.Detail)
	}

	// Someone deletes coopguard's route and adds a default route of
	// their own.
	if err := gcp.Wait(ctx)(op.Routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: pr, Route: sb.EgressRoute()})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(op.Routes.Insert(ctx, &computepb.InsertRouteRequest{Project: pr, RouteResource: &computepb.Route{Name: proto.String("my-way-out"),
		Network: proto.String("global/networks/" + sb.Network()), DestRange: proto.String("0.0.0.0/0"),
		NextHopGateway: proto.String(provisioner.InternetGateway)}})); err != nil {
		t.Fatal(err)
	}
	r := routeResult(converge())
	if r.Action != provisioner.Create || !strings.Contains(r.Detail, "my-way-out") {
		t.Errorf("converge after the delete: route %s (%s), want created, my-way-out deleted", r.Action, r.Detail)
	}
	if got := routesOf(sb.Network()); !slices.Equal(got, []string{sb.EgressRoute()}) {
		t.Errorf("routes of %s after the repair = %v, want only %s", sb.Network(), got, sb.EgressRoute())
	}
}
