package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestProvisionDisruptiveThroughServer: cloudcoop's VM, as its docs
// create it, adopted through the deployed Provision on GCP's clock; the
// adopt output marks the fixes --disruptive applies. `provision
// --disruptive --dry-run` changes nothing; `provision --disruptive`
// removes the external IP and turns Shielded VM on, and the VM is
// running again.
func TestProvisionDisruptiveThroughServer(t *testing.T) {
	t.Parallel()
	f := fixture.NewFunctions(t)
	ctx := context.Background()
	g := f.Cfg.Cloud.GCP
	name := f.Cfg.VM.Name
	if err := f.Emu.Compute.CreateDefaultNetwork(g.Project); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(f.Operator.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: g.Project, Zone: g.Zone,
		InstanceResource: compute.CloudcoopInstance(g.Zone, name, g.ServiceAccount)})); err != nil {
		t.Fatal(err)
	}
	vm := func() *computepb.Instance {
		t.Helper()
		i, ok := f.Emu.Compute.Instance(g.Project, g.Zone, name)
		if !ok {
			t.Fatal("the VM is gone")
		}
		return i
	}
	hardened := func(i *computepb.Instance) bool {
		return len(i.GetNetworkInterfaces()[0].GetAccessConfigs()) == 0 && i.GetShieldedInstanceConfig().GetEnableSecureBoot()
	}
	server := f.Serve(t)
	var out bytes.Buffer
	if err := runAdopt(ctx, []string{"--name", name, "--server", server}, &out); err != nil {
		t.Fatalf("adopt: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "(--disruptive applies this fix)") || !strings.Contains(out.String(), "--disruptive applies the 2 marked fix(es)") {
		t.Errorf("adopt output does not say what --disruptive applies:\n%s", out.String())
	}
	out.Reset()
	if err := runProvision(ctx, []string{"--name", name, "--disruptive", "--dry-run", "--server", server}, &out); err != nil {
		t.Fatalf("provision --disruptive --dry-run: %v\n%s", err, out.String())
	}
	if hardened(vm()) {
		t.Fatal("the dry run changed the VM")
	}
	out.Reset()
	if err := runProvision(ctx, []string{"--name", name, "--disruptive", "--server", server}, &out); err != nil {
		t.Fatalf("provision --disruptive: %v\n%s", err, out.String())
	}
	i := vm()
	if !hardened(i) || i.GetStatus() != "RUNNING" {
		t.Errorf("after --disruptive: access configs %v, Shielded VM %v, %s; want none, Secure Boot on, RUNNING",
			i.GetNetworkInterfaces()[0].GetAccessConfigs(), i.GetShieldedInstanceConfig(), i.GetStatus())
	}
	for _, want := range []string{"remove the external IP", "stop the VM", "turn on Shielded VM", "start the VM again"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("provision --disruptive printed no %q:\n%s", want, out.String())
		}
	}
}
