package provisioner_test

import (
	"context"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// actionOf returns what a converge did to the resource kind/name.
func actionOf(t *testing.T, rep *provisioner.Report, kind, name string) provisioner.Action {
	t.Helper()
	for _, r := range rep.Resources {
		if r.Kind == kind && r.Name == name {
			return r.Action
		}
	}
	t.Fatalf("converge reported nothing on %s/%s", kind, name)
	return provisioner.None
}

// operatorClients are the project owner's clients, standing for whoever
// changed the sandbox's network behind coopguard's back.
func operatorClients(t *testing.T, emu *emulator.Emulator, project string) *gcp.Clients {
	t.Helper()
	c, err := emu.Clients(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConvergeTurnsOnPrivateGoogleAccess: someone turned Private Google
// Access off on the sandbox's subnet; the next converge turns it back on
// with subnetworks.setPrivateIpGoogleAccess, and the one after changes
// nothing.
func TestConvergeTurnsOnPrivateGoogleAccess(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Demo()
	sb, err := provisioner.NewSandbox(&cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	op := operatorClients(t, emu, cfg.Cloud.GCP.Project)
	pga := func() bool {
		t.Helper()
		sn, err := op.Subnetworks.Get(ctx, &computepb.GetSubnetworkRequest{Project: cfg.Cloud.GCP.Project, Region: cfg.Region(), Subnetwork: sb.Subnet()})
		if err != nil {
			t.Fatal(err)
		}
		return sn.GetPrivateIpGoogleAccess()
	}
	if !pga() {
		t.Fatal("the provisioned subnet has no Private Google Access")
	}
	// Twice: a second repair must not reuse the first one's request id,
	// which Compute would answer with the old operation and no change.
	for round := 1; round <= 2; round++ {
		if err := gcp.Wait(ctx)(op.Subnetworks.SetPrivateIpGoogleAccess(ctx, &computepb.SetPrivateIpGoogleAccessSubnetworkRequest{
			Project: cfg.Cloud.GCP.Project, Region: cfg.Region(), Subnetwork: sb.Subnet(),
			SubnetworksSetPrivateIpGoogleAccessRequestResource: &computepb.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: proto.Bool(false)},
		})); err != nil {
			t.Fatal(err)
		}
		rep, err := p.Converge(ctx, provisioner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if a := actionOf(t, rep, "subnetwork", sb.Subnet()); a != provisioner.Update {
			t.Errorf("round %d: converge did %s to the subnet, want %s", round, a, provisioner.Update)
		}
		if !pga() {
			t.Errorf("round %d: converge reported the repair, but Private Google Access is still off", round)
		}
		rep, err = p.Converge(ctx, provisioner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if a := actionOf(t, rep, "subnetwork", sb.Subnet()); a != provisioner.None {
			t.Errorf("round %d: the next converge did %s to the subnet, want nothing", round, a)
		}
	}
}

// TestConvergeSwitchesAutoModeNetwork: the sandbox's network exists in
// auto mode (made by hand before the first converge); converge switches
// it to custom mode with networks.switchToCustomMode and provisions the
// rest of the sandbox on it.
func TestConvergeSwitchesAutoModeNetwork(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	sb, err := provisioner.NewSandbox(&cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	op := operatorClients(t, emu, cfg.Cloud.GCP.Project)
	if err := gcp.Wait(ctx)(op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: cfg.Cloud.GCP.Project, NetworkResource: &computepb.Network{
		Name: proto.String(sb.Network()), AutoCreateSubnetworks: proto.Bool(true),
	}})); err != nil {
		t.Fatal(err)
	}
	rep, err := p.Converge(ctx, provisioner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if failed := rep.Failed(); len(failed) > 0 {
		t.Fatalf("converge failed: %+v", failed)
	}
	if a := actionOf(t, rep, "network", sb.Network()); a != provisioner.Update {
		t.Errorf("converge did %s to the auto-mode network, want %s", a, provisioner.Update)
	}
	n, err := op.Networks.Get(ctx, &computepb.GetNetworkRequest{Project: cfg.Cloud.GCP.Project, Network: sb.Network()})
	if err != nil || n.GetAutoCreateSubnetworks() {
		t.Errorf("network after converge: %v, %v; want custom mode", n, err)
	}
	if a := actionOf(t, rep, "subnetwork", sb.Subnet()); a != provisioner.Create {
		t.Errorf("converge did %s to the subnet, want %s", a, provisioner.Create)
	}
}
