package provisioner_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// cloudcoopVM creates, as the project's owner through the official
// client, the default network, cloudcoop's allow-ssh-iap rule and its VM
// named name running as the configured sandbox account.
func cloudcoopVM(t *testing.T, emu *emulator.Emulator, name string) *gcp.Clients {
	t.Helper()
	ctx := context.Background()
	cfg := config.Demo()
	g := cfg.Cloud.GCP
	if err := emu.Compute.CreateDefaultNetwork(g.Project); err != nil {
		t.Fatal(err)
	}
	op, err := emu.ClientsAs(ctx, g.Project, emulator.Operator)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	if err := gcp.Wait(ctx)(op.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: g.Project, FirewallResource: compute.CloudcoopIAPRule()})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(op.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: g.Project, Zone: g.Zone,
		InstanceResource: compute.CloudcoopInstance(g.Zone, name, g.ServiceAccount)})); err != nil {
		t.Fatal(err)
	}
	return op
}

// TestAdoptCloudcoopVM: a VM created as cloudcoop creates it is refused by
// a plain provision and adopted only when asked: labelled, given the
// quarantine rule in the default network and coopguard's metadata, with
// no stop or start and its own startup-script, metadata and tags kept;
// the report lists what needs a stop with its fix, and a later plain
// converge keeps it adopted and changes nothing.
func TestAdoptCloudcoopVM(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	g := cfg.Cloud.GCP
	op := cloudcoopVM(t, emu, cfg.VM.Name)

	if _, err := p.Converge(ctx, provisioner.Options{}); err == nil || !strings.Contains(err.Error(), provisioner.ErrNotOurs.Error()) || !strings.Contains(err.Error(), "coopguard adopt") {
		t.Fatalf("plain provision of cloudcoop's VM: %v, want ErrNotOurs naming coopguard adopt", err)
	}
	if _, ok := emu.Compute.Network(g.Project, "coopguard-"+cfg.VM.Name+"-net"); ok {
		t.Error("the refused provision built the sandbox's network")
	}
	if _, err := p.Converge(ctx, provisioner.Options{Name: "no-such-vm", Adopt: true}); !errors.Is(err, provisioner.ErrNothingToAdopt) {
		t.Fatalf("adopt of a missing VM: %v, want ErrNothingToAdopt", err)
	}
	before := emu.Faults.Calls("compute.instances.stop") + emu.Faults.Calls("compute.instances.start")
	rep, err := p.Converge(ctx, provisioner.Options{Adopt: true})
	if err != nil {
		t.Fatalf("adopt: %v", err)
	}
	if n := emu.Faults.Calls("compute.instances.stop") + emu.Faults.Calls("compute.instances.start") - before; n != 0 {
		t.Errorf("adopt made %d stop/start calls", n)
	}
	inst, _ := emu.Compute.Instance(g.Project, g.Zone, cfg.VM.Name)
	if inst.GetStatus() != "RUNNING" {
		t.Errorf("status after adopt = %s", inst.GetStatus())
	}
	if inst.GetLabels()[config.SandboxLabel] != cfg.VM.Name || inst.GetLabels()[provisioner.AdoptedLabel] != "default" {
		t.Errorf("labels = %v", inst.GetLabels())
	}
	md := map[string]string{}
	for _, it := range inst.GetMetadata().GetItems() {
		md[it.GetKey()] = it.GetValue()
	}
	for k, want := range map[string]string{"cloudcoop-version": "1.4.0", "enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "enable-guest-attributes": "TRUE", "coopguard-agents": "run"} {
		if md[k] != want {
			t.Errorf("metadata %s = %q, want %q", k, md[k], want)
		}
	}
	if !strings.Contains(md["startup-script"], "coopguard-watcher") {
		t.Errorf("a VM without a startup-script did not get the watcher's")
	}
	sb, _ := provisioner.NewSandbox(&cfg, "", "")
	fw, err := op.Firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: g.Project, Firewall: sb.FirewallQuarantine()})
	if err != nil {
		t.Fatalf("quarantine rule: %v", err)
	}
	if !strings.HasSuffix(fw.GetNetwork(), "/global/networks/default") || fw.GetDirection() != "EGRESS" || fw.GetTargetTags()[0] != config.QuarantineTag {
		t.Errorf("quarantine rule = %v", fw)
	}
	for _, r := range rep.Resources {
		if r.Kind == "network" || r.Kind == "subnetwork" || r.Kind == "router" {
			t.Errorf("adopt built %s/%s", r.Kind, r.Name)
		}
	}
	var gaps []string
	for _, gp := range rep.Gaps {
		gaps = append(gaps, gp.What)
		if gp.Fix == "" {
			t.Errorf("gap %q has no fix", gp.What)
		}
	}
	if len(gaps) != 3 || !strings.Contains(strings.Join(gaps, "|"), "external IP") || !strings.Contains(strings.Join(gaps, "|"), "Shielded VM") {
		t.Errorf("gaps = %q, want network, external IP, Shielded VM", gaps)
	}
	if rep.Adopted != "default" || rep.WatcherInstall == "" {
		t.Errorf("report adopted %q, watcher install %q", rep.Adopted, rep.WatcherInstall)
	}

	mutations := emu.Faults.TotalMutations()
	rep, err = p.Converge(ctx, provisioner.Options{})
	if err != nil {
		t.Fatalf("converge of the adopted VM: %v", err)
	}
	if d := emu.Faults.TotalMutations() - mutations; d != 0 {
		t.Errorf("converging the adopted sandbox made %d mutating calls", d)
	}
	if rep.Adopted != "default" {
		t.Errorf("a later converge forgot the adoption")
	}
}
