package provisioner_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// existingProject is a project its operator made before coopguard, billed
// to the fleet's account, under parent ("" for none), with its own owner.
func existingProject(t *testing.T, emu *emulator.Emulator, project, parent string) {
	t.Helper()
	ctx := context.Background()
	emu.ResourceManager.SeedProject(project)
	emu.ResourceManager.UpdatePolicy(project, func(p *iampb.Policy) {
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/owner", Members: []string{"user:owner@example.com"}})
	})
	op, err := emu.Clients(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if parent != "" {
		mv, err := op.Projects.MoveProject(ctx, &resourcemanagerpb.MoveProjectRequest{Name: "projects/" + project, DestinationParent: parent})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mv.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := op.Billing.UpdateProjectBillingInfo(ctx, &billingpb.UpdateProjectBillingInfoRequest{Name: "projects/" + project,
		ProjectBillingInfo: &billingpb.ProjectBillingInfo{BillingAccountName: fleetBilling}}); err != nil {
		t.Fatal(err)
	}
}

// failed lists a report's failed lines (none without a report).
func failed(rep *provisioner.Report) []provisioner.Result {
	if rep == nil {
		return nil
	}
	return rep.Failed()
}

// boundTo lists the roles member holds on project's own policy.
func boundTo(emu *emulator.Emulator, project, member string) []string {
	pol, _ := emu.ResourceManager.Policy(project)
	var out []string
	for _, b := range pol.GetBindings() {
		if slices.Contains(b.GetMembers(), member) {
			out = append(out, b.GetRole())
		}
	}
	return out
}

// TestAdoptProjectUnderTheFolder: a project under the fleet's folder that
// coopguard did not create is adopted by Provision alone. With the folder
// roles deploy.sh grants, the provisioner creates its own role there and
// binds itself to it (never owner), then builds the sandbox and binds
// the job accounts; Monitoring's notification agent of that project may
// publish to coopguard's alerts topic. A dry run plans the provisioner's
// grant and changes nothing; a second converge changes nothing.
func TestAdoptProjectUnderTheFolder(t *testing.T) {
	emu, cfg, c := setupFleet(t)
	ctx := context.Background()
	home, proj := cfg.Cloud.GCP.Project, "coopguard-sbx-adopted"
	existingProject(t, emu, proj, fleetFolder)
	p := provisioner.New(cfg, c, func(*provisioner.Sandbox) string { return sinkFilter })
	o := provisioner.Options{Project: proj, Name: "sbx-adopted"}
	prov := "serviceAccount:" + config.AccountEmail(config.AccountProvisioner, home)

	before := emu.Faults.TotalMutations()
	dry := o
	dry.DryRun = true
	rep, err := p.Converge(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	if d := emu.Faults.TotalMutations() - before; d != 0 {
		t.Fatalf("dry run made %d mutating calls", d)
	}
	if r := rep.Resources[0]; r.Kind != "provisioner-grant" || r.Action != provisioner.Update {
		t.Errorf("dry run's first line = %+v, want the provisioner's grant in %s", r, proj)
	}

	rep, err = p.Converge(ctx, o)
	if err != nil {
		for _, f := range failed(rep) {
			t.Logf("%s/%s: %s", f.Kind, f.Name, f.Error)
		}
		t.Fatal(err)
	}
	want := "projects/" + proj + "/roles/coopguardProvisioner"
	if got := boundTo(emu, proj, prov); !slices.Equal(got, []string{want}) {
		t.Errorf("the provisioner holds %v in %s, want its own role %s only", got, proj, want)
	}
	// The job accounts' roles, bound by Provision: the responder may stop
	// this sandbox's VM.
	responder := "serviceAccount:" + config.AccountEmail(config.AccountResponder, home)
	if !emu.IAM.Allowed(responder, "compute.instances.stop", "projects/"+proj+"/zones/"+cfg.Cloud.GCP.Zone+"/instances/sbx-adopted") {
		t.Error("the responder may not stop the adopted project's sandbox")
	}
	agent := "serviceAccount:service-" + resourcemanager.NumberOf(proj) + "@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
	alerts := "projects/" + home + "/topics/" + cfg.Coopguard.Topics.Alerts
	if !emu.IAM.Allowed(agent, "pubsub.topics.publish", alerts) {
		t.Errorf("Monitoring's notification agent of %s (%s) may not publish to %s", proj, agent, alerts)
	}
	if emu.IAM.Allowed(agent, "pubsub.topics.publish", "projects/"+home+"/topics/"+cfg.Coopguard.Topics.Logs) {
		t.Errorf("Monitoring's notification agent of %s may publish to the logs topic too", proj)
	}

	before = emu.Faults.TotalMutations()
	rep, err = p.Converge(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := emu.Faults.TotalMutations() - before; d != 0 {
		t.Errorf("second converge made %d mutating calls: %v", d, changed(rep))
	}
}

// TestAdoptProjectOutsideTheFolder: a project outside the fleet's folder
// is refused before anything is read or changed there, with an error
// naming the project, the roles missing and the commands its owner runs;
// once they are run, Provision adopts it.
func TestAdoptProjectOutsideTheFolder(t *testing.T) {
	emu, cfg, c := setupFleet(t)
	ctx := context.Background()
	home, proj := cfg.Cloud.GCP.Project, "coopguard-sbx-elsewhere"
	emu.ResourceManager.SeedFolder("folders/5150", "organizations/1", "not the fleet's")
	existingProject(t, emu, proj, "folders/5150")
	p := provisioner.New(cfg, c, func(*provisioner.Sandbox) string { return sinkFilter })
	o := provisioner.Options{Project: proj, Name: "sbx-elsewhere"}
	prov := config.AccountEmail(config.AccountProvisioner, home)

	policyBefore, _ := emu.ResourceManager.Policy(proj)
	before := emu.Faults.TotalMutations()
	_, err := p.Converge(ctx, o)
	if err == nil {
		t.Fatal("Provision adopted a project outside the fleet's folder")
	}
	cmds := []string{
		"gcloud projects add-iam-policy-binding " + proj + " --member=serviceAccount:" + prov + " --role=roles/iam.roleAdmin --condition=None",
		"gcloud projects add-iam-policy-binding " + proj + " --member=serviceAccount:" + prov + " --role=roles/resourcemanager.projectIamAdmin --condition=None",
	}
	for _, w := range append([]string{"project " + proj, "not under the fleet's folder " + fleetFolder, "roles/iam.roleAdmin, roles/resourcemanager.projectIamAdmin"}, cmds...) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error = %v\nwant it to say %q", err, w)
		}
	}
	if d := emu.Faults.TotalMutations() - before; d != 0 {
		t.Errorf("the refusal made %d mutating calls", d)
	}
	if after, _ := emu.ResourceManager.Policy(proj); !proto.Equal(policyBefore, after) {
		t.Errorf("policy of %s changed: %v → %v", proj, policyBefore, after)
	}

	// Its owner runs the two commands (the roles, on the project).
	emu.ResourceManager.UpdatePolicy(proj, func(p *iampb.Policy) {
		for _, role := range []string{"roles/iam.roleAdmin", "roles/resourcemanager.projectIamAdmin"} {
			p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{"serviceAccount:" + prov}})
		}
	})
	rep, err := p.Converge(ctx, o)
	if err != nil {
		for _, f := range failed(rep) {
			t.Logf("%s/%s: %s", f.Kind, f.Name, f.Error)
		}
		t.Fatalf("after the owner's grants: %v", err)
	}
	responder := "serviceAccount:" + config.AccountEmail(config.AccountResponder, home)
	if !emu.IAM.Allowed(responder, "compute.instances.stop", "projects/"+proj+"/zones/"+cfg.Cloud.GCP.Zone+"/instances/sbx-elsewhere") {
		t.Error("the responder may not stop the adopted project's sandbox")
	}
}
