package audit_test

import (
	"context"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestComputeWritesCarryTheRequest: every Compute entry of a change
// carries protoPayload.request, the body's fields with "@type"
// type.googleapis.com/compute.<coll>.<verb> (a firewall's network, which
// defence-changed reads), the "@type" alone for a method without a body
// (stop), metadata keys without their values.
func TestComputeWritesCarryTheRequest(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	wait := func(o *compute.Operation, err error) {
		t.Helper()
		if err == nil {
			err = o.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	nop, err := op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String("net-a"), AutoCreateSubnetworks: proto.Bool(false)}})
	wait(nop, err)
	fop, err := op.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: &computepb.Firewall{
		Name: proto.String("open-ssh"), Network: proto.String("global/networks/net-a"), SourceRanges: []string{"0.0.0.0/0"},
		Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}}})
	wait(fop, err)
	iop, err := op.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zone, InstanceResource: &computepb.Instance{
		Name: proto.String("vm"), MachineType: proto.String("zones/" + zone + "/machineTypes/e2-small"),
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{DiskName: proto.String("vm"), DiskSizeGb: proto.Int64(10)}}},
		Metadata: &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String("startup-script"), Value: proto.String("echo SECRET-AT-INSERT")}}},
	}})
	wait(iop, err)
	inst, err := op.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm"})
	if err != nil {
		t.Fatal(err)
	}
	md := inst.GetMetadata()
	md.Items = append(md.Items, &computepb.Items{Key: proto.String("ssh-keys"), Value: proto.String("me:ssh-ed25519 SECRET-AT-SET")})
	mop, err := op.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: project, Zone: zone, Instance: "vm", MetadataResource: md})
	wait(mop, err)
	sop, err := op.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: project, Zone: zone, Instance: "vm"})
	wait(sop, err)

	request := func(method string) map[string]any {
		t.Helper()
		got := w.entries(method)
		if len(got) == 0 {
			t.Fatalf("no entry of %s", method)
		}
		return got[len(got)-1].GetRequest().AsMap()
	}
	if r := request("v1.compute.firewalls.insert"); r["@type"] != "type.googleapis.com/compute.firewalls.insert" || r["network"] != "global/networks/net-a" || r["name"] != "open-ssh" {
		t.Errorf("firewalls.insert request = %v, want its @type, name and network", r)
	}
	if r := request("v1.compute.instances.stop"); len(r) != 1 || r["@type"] != "type.googleapis.com/compute.instances.stop" {
		t.Errorf("instances.stop request = %v, want the @type alone", r)
	}
	for _, m := range []string{"v1.compute.instances.insert", "v1.compute.instances.setMetadata"} {
		r := request(m)
		js, err := protojson.Marshal(w.entries(m)[len(w.entries(m))-1].GetRequest())
		if err != nil {
			t.Fatal(err)
		}
		s := string(js)
		if r["@type"] != "type.googleapis.com/compute."+strings.TrimPrefix(m, "v1.compute.") || !strings.Contains(s, "startup-script") || strings.Contains(s, "SECRET") {
			t.Errorf("%s request = %s, want its @type and the metadata keys, no values", m, s)
		}
	}
}
