package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestProvisionDisruptiveThroughServer: cloudcoop's VM, as its docs
// create it, running as the user's own account, adopted through the
// deployed Provision on GCP's clock; the adopt output marks the fixes
// --disruptive applies. `provision --disruptive --dry-run` changes
// nothing; `provision --disruptive` removes the external IP, turns
// Shielded VM on and switches the VM to the sandbox's account, and the
// VM is running again.
func TestProvisionDisruptiveThroughServer(t *testing.T) {
	t.Parallel()
	f := fixture.NewFunctions(t)
	ctx := context.Background()
	g := f.Cfg.Cloud.GCP
	name := f.Cfg.VM.Name
	if err := f.Emu.Compute.CreateDefaultNetwork(g.Project); err != nil {
		t.Fatal(err)
	}
	// The VM runs as an account of the user's; its owner lets coopguard's
	// provisioner act as the project's accounts (setting the metadata of
	// a VM acts as the account it runs as).
	userAccount := "cloudcoop-vm@" + g.Project + ".iam.gserviceaccount.com"
	pol, err := f.Operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + g.Project, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/iam.serviceAccountUser", Members: []string{"serviceAccount:" + emulator.Provisioner(g.Project)}})
	pol.Version = 3
	if _, err := f.Operator.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + g.Project, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(f.Operator.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: g.Project, Zone: g.Zone,
		InstanceResource: compute.CloudcoopInstance(g.Zone, name, userAccount)})); err != nil {
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
	changed := func(i *computepb.Instance) bool {
		return len(i.GetNetworkInterfaces()[0].GetAccessConfigs()) == 0 || i.GetShieldedInstanceConfig().GetEnableSecureBoot() ||
			i.GetServiceAccounts()[0].GetEmail() != userAccount
	}
	server := f.Serve(t)
	var out bytes.Buffer
	if err := runAdopt(ctx, []string{"--name", name, "--server", server}, &out); err != nil {
		t.Fatalf("adopt: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "(--disruptive applies this fix)") || !strings.Contains(out.String(), "--disruptive applies the 3 marked fix(es)") {
		t.Errorf("adopt output does not say what --disruptive applies:\n%s", out.String())
	}
	if changed(vm()) {
		t.Fatal("a plain adopt made a change that needs --disruptive")
	}
	out.Reset()
	if err := runProvision(ctx, []string{"--name", name, "--disruptive", "--dry-run", "--server", server}, &out); err != nil {
		t.Fatalf("provision --disruptive --dry-run: %v\n%s", err, out.String())
	}
	if changed(vm()) {
		t.Fatal("the dry run changed the VM")
	}
	out.Reset()
	if err := runProvision(ctx, []string{"--name", name, "--disruptive", "--server", server}, &out); err != nil {
		t.Fatalf("provision --disruptive: %v\n%s", err, out.String())
	}
	i := vm()
	if len(i.GetNetworkInterfaces()[0].GetAccessConfigs()) != 0 || !i.GetShieldedInstanceConfig().GetEnableSecureBoot() ||
		i.GetServiceAccounts()[0].GetEmail() != g.ServiceAccount || i.GetStatus() != "RUNNING" {
		t.Errorf("after --disruptive: access configs %v, Shielded VM %v, account %s, %s; want none, Secure Boot on, %s, RUNNING",
			i.GetNetworkInterfaces()[0].GetAccessConfigs(), i.GetShieldedInstanceConfig(), i.GetServiceAccounts()[0].GetEmail(), i.GetStatus(), g.ServiceAccount)
	}
	for _, want := range []string{"remove the external IP", "stop the VM", "turn on Shielded VM", "run as the sandbox's own account", "start the VM again"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("provision --disruptive printed no %q:\n%s", want, out.String())
		}
	}
}
