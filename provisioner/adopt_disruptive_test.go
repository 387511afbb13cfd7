package provisioner_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// userAccount is an account of the user's own that cloudcoop's VM runs
// as instead of the sandbox's (e.g. one shared by several VMs).
var userAccount = "cloudcoop-vm@" + config.Demo().Cloud.GCP.Project + ".iam.gserviceaccount.com"

// cloudcoopVMAs creates cloudcoop's VM named name as cloudcoopVM does,
// running as account; with grant, the owner lets coopguard's
// provisioner act as the project's accounts.
func cloudcoopVMAs(t *testing.T, emu *emulator.Emulator, name, account string, grant bool) *gcp.Clients {
	t.Helper()
	ctx := context.Background()
	g := config.Demo().Cloud.GCP
	if err := emu.Compute.CreateDefaultNetwork(g.Project); err != nil {
		t.Fatal(err)
	}
	op, err := emu.ClientsAs(ctx, g.Project, emulator.Operator)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	if grant {
		grantActAs(t, op, g.Project)
	}
	if err := gcp.Wait(ctx)(op.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: g.Project, Zone: g.Zone,
		InstanceResource: compute.CloudcoopInstance(g.Zone, name, account)})); err != nil {
		t.Fatal(err)
	}
	return op
}

// grantActAs is the owner letting coopguard's provisioner act as the
// project's accounts, as setting metadata on a VM that runs as an
// account needs
// (https://cloud.google.com/compute/docs/access/iam#the_serviceaccountuser_role).
func grantActAs(t *testing.T, op *gcp.Clients, project string) {
	t.Helper()
	ctx := context.Background()
	pol, err := op.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + project, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/iam.serviceAccountUser", Members: []string{"serviceAccount:" + emulator.Provisioner(project)}})
	pol.Version = 3
	if _, err := op.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + project, Policy: pol}); err != nil {
		t.Fatal(err)
	}
}

func gapKinds(gaps []provisioner.Gap, disruptive bool) []string {
	var out []string
	for _, g := range gaps {
		if g.Disruptive == disruptive {
			out = append(out, g.Kind)
		}
	}
	slices.Sort(out)
	return out
}

// TestDisruptiveHardensAdoptedVM: on cloudcoop's VM (default network,
// external IP, Secure Boot off, the default compute account) a dry run
// with --disruptive and a plain adopt change none of what needs a stop,
// and the report says which fixes --disruptive would apply. With
// --disruptive the network gets a Cloud NAT, the external IP goes, and
// the VM is stopped once, gets Shielded VM and the sandbox's own
// account, and is running again; only the VPC (a rebuild) stays listed.
// A second run changes nothing. A VM coopguard did not adopt is refused.
func TestDisruptiveHardensAdoptedVM(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	g := cfg.Cloud.GCP
	name := cfg.VM.Name
	op := cloudcoopVMAs(t, emu, name, userAccount, true)
	inst := func() *computepb.Instance {
		t.Helper()
		i, ok := emu.Compute.Instance(g.Project, g.Zone, name)
		if !ok {
			t.Fatal("the VM is gone")
		}
		return i
	}
	power := func() (int, int) {
		return emu.Faults.Calls("compute.instances.stop"), emu.Faults.Calls("compute.instances.start")
	}

	if _, err := p.Converge(ctx, provisioner.Options{Disruptive: true}); !errors.Is(err, provisioner.ErrNotOurs) {
		t.Fatalf("--disruptive on a VM coopguard did not adopt: %v, want ErrNotOurs", err)
	}
	mutations := emu.Faults.TotalMutations()
	rep, err := p.Converge(ctx, provisioner.Options{Adopt: true, Disruptive: true, DryRun: true})
	if err != nil {
		t.Fatalf("adopt --disruptive --dry-run: %v", err)
	}
	if d := emu.Faults.TotalMutations() - mutations; d != 0 {
		t.Errorf("the dry run made %d mutating calls", d)
	}
	if got, want := gapKinds(rep.Gaps, true), []string{provisioner.GapExternalIP, provisioner.GapAccount, provisioner.GapShielded}; !slices.Equal(got, want) {
		t.Errorf("the dry run says --disruptive would close %v, want %v", got, want)
	}
	if got := gapKinds(rep.Gaps, false); !slices.Equal(got, []string{provisioner.GapNetwork}) {
		t.Errorf("gaps left to a rebuild = %v, want the network", got)
	}
	var planned []string
	for _, r := range rep.Resources {
		if r.Kind == provisioner.KindDisruptive && r.Status == provisioner.StatusPlanned {
			planned = append(planned, r.Detail)
		}
	}
	if len(planned) != 3 || !strings.Contains(strings.Join(planned, "|"), "run it as the sandbox's own account "+g.ServiceAccount) {
		t.Errorf("the dry run plans %q, want the three fixes --disruptive would make", planned)
	}

	if _, err := p.Converge(ctx, provisioner.Options{Adopt: true}); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	i := inst()
	if len(i.GetNetworkInterfaces()[0].GetAccessConfigs()) != 1 || i.GetShieldedInstanceConfig().GetEnableSecureBoot() ||
		i.GetServiceAccounts()[0].GetEmail() != userAccount {
		t.Fatalf("a plain adopt made a change that needs --disruptive: %v", i)
	}
	if stops, starts := power(); stops+starts != 0 {
		t.Fatalf("a plain adopt stopped or started the VM (%d, %d)", stops, starts)
	}

	rep, err = p.Converge(ctx, provisioner.Options{Disruptive: true})
	if err != nil {
		t.Fatalf("--disruptive: %v\n%+v", err, rep.Failed())
	}
	i = inst()
	if i.GetStatus() != "RUNNING" {
		t.Errorf("status after --disruptive = %s, want RUNNING again", i.GetStatus())
	}
	if acs := i.GetNetworkInterfaces()[0].GetAccessConfigs(); len(acs) != 0 {
		t.Errorf("access configs after --disruptive = %v, want none", acs)
	}
	if sh := i.GetShieldedInstanceConfig(); !sh.GetEnableSecureBoot() || !sh.GetEnableVtpm() || !sh.GetEnableIntegrityMonitoring() {
		t.Errorf("Shielded VM after --disruptive = %v", sh)
	}
	if sas := i.GetServiceAccounts(); len(sas) != 1 || sas[0].GetEmail() != g.ServiceAccount {
		t.Errorf("accounts after --disruptive = %v, want %s", sas, g.ServiceAccount)
	}
	if stops, starts := power(); stops != 1 || starts != 1 {
		t.Errorf("--disruptive made %d stops and %d starts, want one of each", stops, starts)
	}
	sb, _ := provisioner.NewSandbox(&cfg, "", "")
	rt, err := op.Routers.Get(ctx, &computepb.GetRouterRequest{Project: g.Project, Region: sb.Region, Router: sb.Router()})
	if err != nil || !strings.HasSuffix(rt.GetNetwork(), "/networks/default") || len(rt.GetNats()) != 1 {
		t.Errorf("Cloud NAT for the default network: %v, %v", rt, err)
	}
	if got := gapKinds(rep.Gaps, true); len(got) != 0 {
		t.Errorf("gaps --disruptive left = %v", got)
	}
	if got := gapKinds(rep.Gaps, false); !slices.Equal(got, []string{provisioner.GapNetwork}) {
		t.Errorf("gaps after --disruptive = %v, want only the network's", got)
	}

	mutations = emu.Faults.TotalMutations()
	if _, err := p.Converge(ctx, provisioner.Options{Disruptive: true}); err != nil {
		t.Fatalf("second --disruptive: %v", err)
	}
	if d := emu.Faults.TotalMutations() - mutations; d != 0 {
		t.Errorf("a second --disruptive made %d mutating calls", d)
	}
}

// TestDisruptiveLeavesContainedVMStopped: an adopted VM carrying the
// quarantine tag gets its fixes but is not started again, and one that
// was stopped stays stopped.
func TestDisruptiveLeavesContainedVMStopped(t *testing.T) {
	for _, tc := range []struct {
		name       string
		contained  bool
		stoppedBut bool
	}{
		{"contained and running", true, false},
		{"stopped by its user", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, p := setup(t)
			ctx := context.Background()
			cfg := config.Demo()
			g := cfg.Cloud.GCP
			name := cfg.VM.Name
			op := cloudcoopVMAs(t, emu, name, userAccount, true)
			if _, err := p.Converge(ctx, provisioner.Options{Adopt: true}); err != nil {
				t.Fatalf("adopt: %v", err)
			}
			if tc.contained {
				i, _ := emu.Compute.Instance(g.Project, g.Zone, name)
				if err := gcp.Wait(ctx)(op.Instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: name,
					TagsResource: &computepb.Tags{Items: append(i.GetTags().GetItems(), config.QuarantineTag), Fingerprint: proto.String(i.GetTags().GetFingerprint())}})); err != nil {
					t.Fatal(err)
				}
			}
			if tc.stoppedBut {
				if err := gcp.Wait(ctx)(op.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: name})); err != nil {
					t.Fatal(err)
				}
			}
			starts := emu.Faults.Calls("compute.instances.start")
			if _, err := p.Converge(ctx, provisioner.Options{Disruptive: true}); err != nil {
				t.Fatalf("--disruptive: %v", err)
			}
			i, _ := emu.Compute.Instance(g.Project, g.Zone, name)
			if i.GetStatus() != "TERMINATED" || emu.Faults.Calls("compute.instances.start") != starts {
				t.Errorf("status %s after --disruptive, %d starts: want it left stopped", i.GetStatus(), emu.Faults.Calls("compute.instances.start")-starts)
			}
			if !i.GetShieldedInstanceConfig().GetEnableSecureBoot() || i.GetServiceAccounts()[0].GetEmail() != g.ServiceAccount {
				t.Errorf("the fixes were not applied to the stopped VM: %v, %v", i.GetShieldedInstanceConfig(), i.GetServiceAccounts())
			}
		})
	}
}

// TestAdoptNamesTheActAsGrant: adopting a VM that runs as an account
// coopguard's provisioner may not act as is refused by GCP; the error
// names the grant that lets it, and nothing of the VM changed.
func TestAdoptNamesTheActAsGrant(t *testing.T) {
	emu, p := setup(t)
	cfg := config.Demo()
	g := cfg.Cloud.GCP
	cloudcoopVMAs(t, emu, cfg.VM.Name, userAccount, false)
	_, err := p.Converge(context.Background(), provisioner.Options{Adopt: true})
	if err == nil || !strings.Contains(err.Error(), "add-iam-policy-binding "+userAccount) || !strings.Contains(err.Error(), "roles/iam.serviceAccountUser") {
		t.Fatalf("adopt of a VM running as an account the provisioner cannot act as: %v, want the grant named", err)
	}
	i, _ := emu.Compute.Instance(g.Project, g.Zone, cfg.VM.Name)
	if _, ok := i.GetLabels()[provisioner.AdoptedLabel]; ok {
		t.Errorf("the refused adopt labelled the VM: %v", i.GetLabels())
	}
}
