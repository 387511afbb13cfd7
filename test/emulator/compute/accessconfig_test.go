package compute

import (
	"net/http"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestAddAccessConfig: instances.addAccessConfig gives the named
// interface an ONE_TO_ONE_NAT config with an ephemeral address; a second
// one on the same interface, an unknown interface and another type are
// refused (400) and change nothing.
func TestAddAccessConfig(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	inst := e.createInstance(t, "web-1", nil, nil)
	nic := inst.GetNetworkInterfaces()[0].GetName()
	add := func(nic, typ string) error {
		op, err := e.inst.AddAccessConfig(ctx, &computepb.AddAccessConfigInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
			NetworkInterface: nic, AccessConfigResource: &computepb.AccessConfig{Type: proto.String(typ)}})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	if n := len(inst.GetNetworkInterfaces()[0].GetAccessConfigs()); n != 0 {
		t.Fatalf("a new instance without access configs has %d", n)
	}
	if err := add(nic, "ONE_TO_ONE_NAT"); err != nil {
		t.Fatalf("addAccessConfig: %v", err)
	}
	got, _ := e.srv.Instance(testProject, testZone, "web-1")
	acs := got.GetNetworkInterfaces()[0].GetAccessConfigs()
	if len(acs) != 1 || acs[0].GetType() != "ONE_TO_ONE_NAT" || acs[0].GetNatIP() == "" {
		t.Fatalf("access configs after the add = %v, want one ONE_TO_ONE_NAT with an address", acs)
	}
	for _, bad := range []struct{ nic, typ string }{{nic, "ONE_TO_ONE_NAT"}, {"nic9", "ONE_TO_ONE_NAT"}, {nic, "DIRECT_IPV6"}} {
		if code, _ := apiCode(t, add(bad.nic, bad.typ)); code != http.StatusBadRequest {
			t.Errorf("addAccessConfig %s %s: code %d, want 400", bad.nic, bad.typ, code)
		}
	}
	if got, _ := e.srv.Instance(testProject, testZone, "web-1"); len(got.GetNetworkInterfaces()[0].GetAccessConfigs()) != 1 {
		t.Errorf("a refused add changed the access configs: %v", got.GetNetworkInterfaces()[0].GetAccessConfigs())
	}
}
