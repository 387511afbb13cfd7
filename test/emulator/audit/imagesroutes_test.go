package audit_test

import (
	"context"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// restAs is the option set of an official Compute REST client acting as
// principal against the emulator.
func (w *world) restAs(principal string) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(w.emu.ComputeURL), option.WithTelemetryDisabled(),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: gcp.EmulatedToken(principal)}))}
}

// TestImageOfDiskShared: images.insert from a disk a VM uses needs
// forceCreate; the image is READY when its operation is DONE and names
// its source disk; images.setIamPolicy shares it (412 on a stale etag);
// insert and setIamPolicy are Admin Activity, the insert's entry carries
// the request (sourceDisk); the sandbox's account is refused, status 7.
func TestImageOfDiskShared(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	operatorVM(t, op, &computepb.Instance{})
	images, err := compute.NewImagesRESTClient(ctx, w.restAs(emulator.Operator)...)
	if err != nil {
		t.Fatal(err)
	}
	defer images.Close()
	img := &computepb.Image{Name: proto.String("vm-copy"), SourceDisk: proto.String("zones/" + zone + "/disks/vm")}
	if _, err := images.Insert(ctx, &computepb.InsertImageRequest{Project: project, ImageResource: img}); err == nil || !strings.Contains(err.Error(), "already being used") {
		t.Fatalf("images.insert of an attached disk without forceCreate = %v, want 400 in use", err)
	}
	iop, err := images.Insert(ctx, &computepb.InsertImageRequest{Project: project, ImageResource: img, ForceCreate: proto.Bool(true)})
	if err == nil {
		err = iop.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := images.Get(ctx, &computepb.GetImageRequest{Project: project, Image: "vm-copy"})
	if err != nil || got.GetStatus() != "READY" || !strings.HasSuffix(got.GetSourceDisk(), "/projects/"+project+"/zones/"+zone+"/disks/vm") {
		t.Fatalf("images.get = %v, %v; want READY from the disk vm", got, err)
	}
	share := &computepb.Policy{Bindings: []*computepb.Binding{{Role: proto.String("roles/compute.imageUser"), Members: []string{"user:attacker@example.com"}}}}
	set, err := images.SetIamPolicy(ctx, &computepb.SetIamPolicyImageRequest{Project: project, Resource: "vm-copy",
		GlobalSetPolicyRequestResource: &computepb.GlobalSetPolicyRequest{Policy: share}})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := images.GetIamPolicy(ctx, &computepb.GetIamPolicyImageRequest{Project: project, Resource: "vm-copy"})
	if err != nil || len(pol.GetBindings()) != 1 || pol.GetEtag() != set.GetEtag() {
		t.Errorf("images.getIamPolicy = %v, %v; want the shared policy", pol, err)
	}
	stale := proto.Clone(share).(*computepb.Policy)
	stale.Etag = proto.String("stale")
	if _, err := images.SetIamPolicy(ctx, &computepb.SetIamPolicyImageRequest{Project: project, Resource: "vm-copy",
		GlobalSetPolicyRequestResource: &computepb.GlobalSetPolicyRequest{Policy: stale}}); err == nil || !strings.Contains(err.Error(), "412") {
		t.Errorf("images.setIamPolicy with a stale etag = %v, want 412", err)
	}
	agent, err := compute.NewImagesRESTClient(ctx, w.restAs(sandbox)...)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if _, err := agent.SetIamPolicy(ctx, &computepb.SetIamPolicyImageRequest{Project: project, Resource: "vm-copy",
		GlobalSetPolicyRequestResource: &computepb.GlobalSetPolicyRequest{Policy: share}}); err == nil {
		t.Error("images.setIamPolicy by the sandbox succeeded")
	}
	e := w.entries("v1.compute.images.setIamPolicy")
	if len(e) != 3 || e[0].GetResourceName() != "projects/"+project+"/global/images/vm-copy" || e[2].GetStatus().GetCode() != 7 {
		t.Errorf("images.setIamPolicy entries = %v, want three on the image, the sandbox's denied", e)
	}
	e = w.entries("v1.compute.images.insert")
	if len(e) != 2 || e[1].GetRequest().GetFields()["sourceDisk"].GetStringValue() != "zones/"+zone+"/disks/vm" ||
		e[1].GetRequest().GetFields()["@type"].GetStringValue() != "type.googleapis.com/compute.images.insert" {
		t.Errorf("images.insert entries = %v, want two carrying the request's sourceDisk", e)
	}
	for _, m := range []string{"v1.compute.images.insert", "v1.compute.images.setIamPolicy"} {
		if ln := w.logNameOf(m); !strings.HasSuffix(ln, audit.ActivityLog) {
			t.Errorf("%s logged in %s, want the activity log", m, ln)
		}
	}
	dop, err := images.Delete(ctx, &computepb.DeleteImageRequest{Project: project, Image: "vm-copy"})
	if err == nil {
		err = dop.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := images.Get(ctx, &computepb.GetImageRequest{Project: project, Image: "vm-copy"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("images.get after delete = %v, want 404", err)
	}
}

// TestRouteAndPeeringOnNetwork: routes.insert needs a network and
// exactly one next hop, keeps the network deleted until the route is;
// a peering is INACTIVE until the peer peers back, then ACTIVE on both
// sides; removePeering leaves the peer's side INACTIVE. Each is Admin
// Activity; the route's entry carries the request (its network), the
// peering's names the network.
func TestRouteAndPeeringOnNetwork(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	for _, n := range []string{"net-a", "net-b"} {
		nop, err := op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
			Name: proto.String(n), AutoCreateSubnetworks: proto.Bool(false)}})
		if err == nil {
			err = nop.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	routes, err := compute.NewRoutesRESTClient(ctx, w.restAs(emulator.Operator)...)
	if err != nil {
		t.Fatal(err)
	}
	defer routes.Close()
	r := &computepb.Route{Name: proto.String("via-box"), Network: proto.String("global/networks/net-a"), DestRange: proto.String("0.0.0.0/0"),
		NextHopIp: proto.String("10.0.0.9")}
	bad := proto.Clone(r).(*computepb.Route)
	bad.NextHopGateway = proto.String("global/gateways/default-internet-gateway")
	if _, err := routes.Insert(ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: bad}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("routes.insert with two next hops = %v, want 400", err)
	}
	rop, err := routes.Insert(ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: r})
	if err == nil {
		err = rop.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := routes.Get(ctx, &computepb.GetRouteRequest{Project: project, Route: "via-box"})
	if err != nil || got.GetPriority() != 1000 || !strings.HasSuffix(got.GetNetwork(), "/global/networks/net-a") {
		t.Errorf("routes.get = %v, %v; want priority 1000 on net-a", got, err)
	}
	if _, err := op.Networks.Delete(ctx, &computepb.DeleteNetworkRequest{Project: project, Network: "net-a"}); err == nil || !strings.Contains(err.Error(), "already being used") {
		t.Errorf("networks.delete under a route = %v, want 400 in use", err)
	}
	peer := func(from, to, name string) {
		t.Helper()
		pop, err := op.Networks.AddPeering(ctx, &computepb.AddPeeringNetworkRequest{Project: project, Network: from,
			NetworksAddPeeringRequestResource: &computepb.NetworksAddPeeringRequest{NetworkPeering: &computepb.NetworkPeering{
				Name: proto.String(name), Network: proto.String("global/networks/" + to), ExchangeSubnetRoutes: proto.Bool(true)}}})
		if err == nil {
			err = pop.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	state := func(net string) string {
		t.Helper()
		n, err := op.Networks.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: net})
		if err != nil || len(n.GetPeerings()) != 1 {
			t.Fatalf("networks.get %s = %v, %v; want one peering", net, n, err)
		}
		return n.GetPeerings()[0].GetState()
	}
	peer("net-a", "net-b", "a-to-b")
	if s := state("net-a"); s != "INACTIVE" {
		t.Errorf("one-sided peering is %s, want INACTIVE", s)
	}
	peer("net-b", "net-a", "b-to-a")
	if a, b := state("net-a"), state("net-b"); a != "ACTIVE" || b != "ACTIVE" {
		t.Errorf("peerings after both sides = %s, %s; want ACTIVE, ACTIVE", a, b)
	}
	rmop, err := op.Networks.RemovePeering(ctx, &computepb.RemovePeeringNetworkRequest{Project: project, Network: "net-a",
		NetworksRemovePeeringRequestResource: &computepb.NetworksRemovePeeringRequest{Name: proto.String("a-to-b")}})
	if err == nil {
		err = rmop.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := state("net-b"); s != "INACTIVE" {
		t.Errorf("the peer's side after removePeering is %s, want INACTIVE", s)
	}
	e := w.entries("v1.compute.routes.insert")
	if len(e) != 2 || e[1].GetRequest().GetFields()["network"].GetStringValue() != "global/networks/net-a" {
		t.Errorf("routes.insert entries = %v, want two, the request naming net-a", e)
	}
	e = w.entries("v1.compute.networks.addPeering")
	if len(e) != 2 || e[0].GetResourceName() != "projects/"+project+"/global/networks/net-a" {
		t.Errorf("addPeering entries = %v, want two, the first on net-a", e)
	}
	e = w.entries("v1.compute.networks.removePeering")
	if len(e) != 1 || e[0].GetResourceName() != "projects/"+project+"/global/networks/net-a" {
		t.Errorf("removePeering entries = %v, want one on net-a", e)
	}
	for _, m := range []string{"v1.compute.routes.insert", "v1.compute.networks.addPeering", "v1.compute.networks.removePeering"} {
		if ln := w.logNameOf(m); !strings.HasSuffix(ln, audit.ActivityLog) {
			t.Errorf("%s logged in %s, want the activity log", m, ln)
		}
	}
	dop, err := routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: project, Route: "via-box"})
	if err == nil {
		err = dop.Wait(ctx)
	}
	if err != nil || len(w.entries("v1.compute.routes.delete")) != 1 {
		t.Errorf("routes.delete = %v, entries %d; want done and audited", err, len(w.entries("v1.compute.routes.delete")))
	}
}
