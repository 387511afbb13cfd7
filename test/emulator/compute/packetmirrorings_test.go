package compute

import (
	"context"
	"net/http"
	"testing"

	gce "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
)

// mirroringClients dials the forwarding rules and packet mirrorings
// clients on the fake.
func (e *env) mirroringClients(t *testing.T) (*gce.ForwardingRulesClient, *gce.PacketMirroringsClient) {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(e.url), option.WithoutAuthentication()}
	fr, err := gce.NewForwardingRulesRESTClient(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fr.Close() })
	pm, err := gce.NewPacketMirroringsRESTClient(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pm.Close() })
	return fr, pm
}

// TestPacketMirroring: a packet mirroring needs an INTERNAL forwarding
// rule marked as mirroring collector in its region, something to mirror,
// and mirrored instances and subnetworks in its network and region; a
// patch adds mirrored instances but cannot move the network; the
// collector and the network cannot be deleted while the mirroring uses
// them. Every refusal is a 400 (404 for a missing reference) and
// changes nothing.
func TestPacketMirroring(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createNetwork(t, testProject, "tools", "10.10.0.0/20")
	e.createInstance(t, "web-1", nil, nil)
	fr, pm := e.mirroringClients(t)
	sub := "regions/" + testRegion + "/subnetworks/tools-" + testRegion
	rule := func(name, scheme string, collector bool, backend string) error {
		op, err := fr.Insert(ctx, &computepb.InsertForwardingRuleRequest{Project: testProject, Region: testRegion, ForwardingRuleResource: &computepb.ForwardingRule{
			Name: proto.String(name), LoadBalancingScheme: proto.String(scheme), IsMirroringCollector: proto.Bool(collector),
			BackendService: proto.String(backend), Subnetwork: proto.String(sub), AllPorts: proto.Bool(true), IPProtocol: proto.String("TCP")}})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	backend := "regions/" + testRegion + "/backendServices/collectors"
	if err := rule("collector", "INTERNAL", true, backend); err != nil {
		t.Fatalf("insert the collector's forwarding rule: %v", err)
	}
	if err := rule("plain", "INTERNAL", false, backend); err != nil {
		t.Fatalf("insert a plain internal forwarding rule: %v", err)
	}
	for _, bad := range []struct {
		name, scheme string
		collector    bool
		backend      string
	}{{"ext", "EXTERNAL", true, backend}, {"nobackend", "INTERNAL", true, ""}, {"farbackend", "INTERNAL", true, "regions/europe-west1/backendServices/x"}} {
		if code, _ := apiCode(t, rule(bad.name, bad.scheme, bad.collector, bad.backend)); code != http.StatusBadRequest {
			t.Errorf("forwarding rule %s: code %d, want 400", bad.name, code)
		}
	}
	got, err := fr.Get(ctx, &computepb.GetForwardingRuleRequest{Project: testProject, Region: testRegion, ForwardingRule: "collector"})
	if err != nil || got.GetIPAddress() == "" || got.GetNetwork() != selfLinkBase+"projects/"+testProject+"/global/networks/tools" {
		t.Fatalf("collector = %v, %v; want an address in the tools network", got, err)
	}

	collector := "regions/" + testRegion + "/forwardingRules/collector"
	web := "zones/" + testZone + "/instances/web-1"
	mirror := func(name, network, collector string, instances ...string) error {
		mr := &computepb.PacketMirroringMirroredResourceInfo{}
		for _, in := range instances {
			mr.Instances = append(mr.Instances, &computepb.PacketMirroringMirroredResourceInfoInstanceInfo{Url: proto.String(in)})
		}
		op, err := pm.Insert(ctx, &computepb.InsertPacketMirroringRequest{Project: testProject, Region: testRegion, PacketMirroringResource: &computepb.PacketMirroring{
			Name: proto.String(name), Network: &computepb.PacketMirroringNetworkInfo{Url: proto.String("global/networks/" + network)},
			CollectorIlb: &computepb.PacketMirroringForwardingRuleInfo{Url: proto.String(collector)}, MirroredResources: mr}})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	for _, bad := range []struct {
		why, network, collector string
		code                    int
		instances               []string
	}{
		{"nothing mirrored", "default", collector, 400, nil},
		{"collector not marked", "default", "regions/" + testRegion + "/forwardingRules/plain", 400, []string{web}},
		{"no collector", "default", "", 400, []string{web}},
		{"missing collector", "default", "regions/" + testRegion + "/forwardingRules/none", 404, []string{web}},
		{"instance off the network", "tools", collector, 400, []string{web}},
		{"missing network", "nowhere", collector, 404, []string{web}},
	} {
		if code, _ := apiCode(t, mirror("bad", bad.network, bad.collector, bad.instances...)); code != bad.code {
			t.Errorf("%s: code %d, want %d", bad.why, code, bad.code)
		}
	}
	if l := names(t, pm.List(ctx, &computepb.ListPacketMirroringsRequest{Project: testProject, Region: testRegion}).Next); len(l) != 0 {
		t.Fatalf("refused inserts left packet mirrorings %v", l)
	}
	if err := mirror("tap", "default", collector, web); err != nil {
		t.Fatalf("insert a packet mirroring of web-1: %v", err)
	}
	tap, err := pm.Get(ctx, &computepb.GetPacketMirroringRequest{Project: testProject, Region: testRegion, PacketMirroring: "tap"})
	if err != nil {
		t.Fatal(err)
	}
	if tap.GetPriority() != 1000 || tap.GetEnable() != "TRUE" || tap.GetKind() != "compute#packetMirroring" ||
		tap.GetMirroredResources().GetInstances()[0].GetUrl() != selfLinkBase+"projects/"+testProject+"/"+web ||
		tap.GetCollectorIlb().GetUrl() != selfLinkBase+"projects/"+testProject+"/"+collector {
		t.Errorf("packet mirroring = %v, want priority 1000, enabled, full URLs", tap)
	}

	// A patch adds a mirrored subnetwork; one moving the network is refused.
	patch := func(body *computepb.PacketMirroring) error {
		op, err := pm.Patch(ctx, &computepb.PatchPacketMirroringRequest{Project: testProject, Region: testRegion, PacketMirroring: "tap", PacketMirroringResource: body})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	if err := patch(&computepb.PacketMirroring{MirroredResources: &computepb.PacketMirroringMirroredResourceInfo{
		Instances:   []*computepb.PacketMirroringMirroredResourceInfoInstanceInfo{{Url: proto.String(web)}},
		Subnetworks: []*computepb.PacketMirroringMirroredResourceInfoSubnetInfo{{Url: proto.String("regions/" + testRegion + "/subnetworks/default-" + testRegion)}}}}); err != nil {
		t.Fatalf("patch adding a subnetwork: %v", err)
	}
	if code, _ := apiCode(t, patch(&computepb.PacketMirroring{Network: &computepb.PacketMirroringNetworkInfo{Url: proto.String("global/networks/tools")}})); code != http.StatusBadRequest {
		t.Errorf("patch moving the network: code %d, want 400", code)
	}
	tap, _ = pm.Get(ctx, &computepb.GetPacketMirroringRequest{Project: testProject, Region: testRegion, PacketMirroring: "tap"})
	if n := len(tap.GetMirroredResources().GetSubnetworks()); n != 1 || tap.GetNetwork().GetUrl() != selfLinkBase+"projects/"+testProject+"/global/networks/default" {
		t.Errorf("after the patches: %d subnetworks, network %s; want 1 and default", n, tap.GetNetwork().GetUrl())
	}

	// In use: the collector and the network stay while the mirroring does.
	if _, err := fr.Delete(ctx, &computepb.DeleteForwardingRuleRequest{Project: testProject, Region: testRegion, ForwardingRule: "collector"}); err == nil {
		t.Error("deleting the collector of a packet mirroring was accepted")
	}
	wait(t)(pm.Delete(ctx, &computepb.DeletePacketMirroringRequest{Project: testProject, Region: testRegion, PacketMirroring: "tap"}))
	wait(t)(fr.Delete(ctx, &computepb.DeleteForwardingRuleRequest{Project: testProject, Region: testRegion, ForwardingRule: "collector"}))
}
