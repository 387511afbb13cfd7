package compute

import (
	"net/http"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestUpdateAccessConfig: instances.updateAccessConfig changes the
// interface's external address; on an interface without an access
// config, under another name or an unknown interface it is refused (400)
// and changes nothing.
func TestUpdateAccessConfig(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, nil)
	update := func(nic string, ac *computepb.AccessConfig) error {
		op, err := e.inst.UpdateAccessConfig(ctx, &computepb.UpdateAccessConfigInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
			NetworkInterface: nic, AccessConfigResource: ac})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	if code, _ := apiCode(t, update("nic0", &computepb.AccessConfig{NatIP: proto.String("198.51.100.7")})); code != http.StatusBadRequest {
		t.Fatalf("updateAccessConfig on an interface without one: code %d, want 400", code)
	}
	wait(t)(e.inst.AddAccessConfig(ctx, &computepb.AddAccessConfigInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
		NetworkInterface: "nic0", AccessConfigResource: &computepb.AccessConfig{Name: proto.String("External NAT")}}))
	if err := update("nic0", &computepb.AccessConfig{NatIP: proto.String("198.51.100.7")}); err != nil {
		t.Fatalf("updateAccessConfig: %v", err)
	}
	for _, bad := range []struct {
		nic string
		ac  *computepb.AccessConfig
	}{{"nic9", &computepb.AccessConfig{NatIP: proto.String("198.51.100.8")}}, {"nic0", &computepb.AccessConfig{Name: proto.String("other"), NatIP: proto.String("198.51.100.8")}}} {
		if code, _ := apiCode(t, update(bad.nic, bad.ac)); code != http.StatusBadRequest {
			t.Errorf("updateAccessConfig %s %v: code %d, want 400", bad.nic, bad.ac, code)
		}
	}
	got, _ := e.srv.Instance(testProject, testZone, "web-1")
	acs := got.GetNetworkInterfaces()[0].GetAccessConfigs()
	if len(acs) != 1 || acs[0].GetNatIP() != "198.51.100.7" || acs[0].GetName() != "External NAT" || acs[0].GetType() != "ONE_TO_ONE_NAT" {
		t.Errorf("access configs = %v, want External NAT at 198.51.100.7", acs)
	}
}

// TestUpdateNetworkInterface: the fingerprint is required (400) and must
// be current (412); moving the interface to another network is refused
// while the VM runs and done once it is stopped (new network, subnetwork
// and address); a field it does not update is refused.
func TestUpdateNetworkInterface(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createNetwork(t, testProject, "tools", "10.10.0.0/20")
	inst := e.createInstance(t, "web-1", nil, nil)
	update := func(nic *computepb.NetworkInterface) error {
		op, err := e.inst.UpdateNetworkInterface(ctx, &computepb.UpdateNetworkInterfaceInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
			NetworkInterface: "nic0", NetworkInterfaceResource: nic})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	cur := inst.GetNetworkInterfaces()[0]
	move := func(fp string) *computepb.NetworkInterface {
		return &computepb.NetworkInterface{Fingerprint: proto.String(fp), Network: proto.String("global/networks/tools"),
			Subnetwork: proto.String("regions/" + testRegion + "/subnetworks/tools-" + testRegion)}
	}
	if code, _ := apiCode(t, update(move(""))); code != http.StatusBadRequest {
		t.Errorf("no fingerprint: code %d, want 400", code)
	}
	if code, _ := apiCode(t, update(move("c3RhbGU="))); code != http.StatusPreconditionFailed {
		t.Errorf("stale fingerprint: code %d, want 412", code)
	}
	if code, _ := apiCode(t, update(move(cur.GetFingerprint()))); code != http.StatusBadRequest {
		t.Errorf("moving a running VM's interface: code %d, want 400", code)
	}
	if code, _ := apiCode(t, update(&computepb.NetworkInterface{Fingerprint: proto.String(cur.GetFingerprint()), StackType: proto.String("IPV4_IPV6")})); code != http.StatusBadRequest {
		t.Errorf("changing the stack type: code %d, want 400", code)
	}
	if got, _ := e.srv.Instance(testProject, testZone, "web-1"); !proto.Equal(got.GetNetworkInterfaces()[0], cur) {
		t.Fatalf("refused updates changed the interface: %v", got.GetNetworkInterfaces()[0])
	}
	wait(t)(e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"}))
	if err := update(move(cur.GetFingerprint())); err != nil {
		t.Fatalf("moving the stopped VM's interface: %v", err)
	}
	got, _ := e.srv.Instance(testProject, testZone, "web-1")
	ni := got.GetNetworkInterfaces()[0]
	if ni.GetNetwork() != selfLinkBase+"projects/"+testProject+"/global/networks/tools" || ni.GetNetworkIP() == cur.GetNetworkIP() || ni.GetFingerprint() == cur.GetFingerprint() {
		t.Errorf("moved interface = %v, want the tools network, a new address and fingerprint", ni)
	}
}
