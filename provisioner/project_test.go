package provisioner_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/deploy/roles"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/test/emulator"
)

const (
	fleetFolder  = "folders/424242424242"
	fleetBilling = "billingAccounts/0A1B2C-3D4E5F-6A7B8C"
	sinkFilter   = `logName:"cloudaudit.googleapis.com"`
)

// setupFleet deploys coopguard with [coopguard.fleet] set (deploy.sh's
// fleet grants replayed) and returns the provisioner's clients.
func setupFleet(t *testing.T) (*emulator.Emulator, *config.Config, *gcp.Clients) {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg := config.Demo()
	cfg.Coopguard.Fleet = config.Fleet{Folder: fleetFolder, BillingAccount: fleetBilling}
	if err := emu.DeployConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	c, err := emu.ClientsAs(context.Background(), cfg.Cloud.GCP.Project, emulator.Provisioner(cfg.Cloud.GCP.Project))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return emu, &cfg, c
}

func fleetSandbox(t *testing.T, cfg *config.Config, name, project string, create bool) *provisioner.Sandbox {
	t.Helper()
	sb, err := provisioner.NewSandbox(cfg, name, sinkFilter)
	if err != nil {
		t.Fatal(err)
	}
	sb.Project, sb.CreateProject = project, create
	return sb
}

func changed(rep *provisioner.Report) []string {
	var out []string
	for _, r := range rep.Resources {
		if r.Action != provisioner.None {
			out = append(out, r.Kind+"/"+r.Name+" "+string(r.Action))
		}
	}
	return out
}

// TestProvisionIntoNewProject provisions a sandbox into a project
// Provision creates under the fleet's folder: the project is linked to the
// billing account with the sandbox's APIs enabled; coopguard's custom roles
// exist there as deploy/roles defines them, each job account bound to its
// own with conditions naming this sandbox only; the project's sink routes
// its audit entries to coopguard's logs topic in coopguard's project, its
// writer identity allowed to publish there and nowhere else; a second
// converge changes nothing.
func TestProvisionIntoNewProject(t *testing.T) {
	emu, cfg, c := setupFleet(t)
	ctx := context.Background()
	home, proj := cfg.Cloud.GCP.Project, "coopguard-sbx-one"
	sb := fleetSandbox(t, cfg, "sbx-one", proj, true)

	// A dry run plans the project and changes nothing.
	before := emu.Faults.TotalMutations()
	rep, err := provisioner.RunSandbox(ctx, c, retry.Default, sb, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := emu.Faults.TotalMutations() - before; d != 0 || emu.ResourceManager.Exists(proj) {
		t.Fatalf("dry run made %d mutating calls (project exists: %v)", d, emu.ResourceManager.Exists(proj))
	}
	if !slices.ContainsFunc(rep.Resources, func(r provisioner.Result) bool { return r.Kind == "project" && r.Action == provisioner.Create }) {
		t.Errorf("dry run = %+v, want the project's creation", rep.Resources)
	}

	rep, err = provisioner.RunSandbox(ctx, c, retry.Default, sb, false, nil)
	if err != nil {
		for _, f := range rep.Failed() {
			t.Logf("%s/%s: %s", f.Kind, f.Name, f.Error)
		}
		t.Fatal(err)
	}
	if !emu.ResourceManager.Exists(proj) || emu.ResourceManager.ParentOf("projects/"+proj) != fleetFolder {
		t.Fatalf("project %s not created under %s", proj, fleetFolder)
	}
	if got := emu.Billing.Linked(proj); got != fleetBilling {
		t.Errorf("project billed to %q, want %s", got, fleetBilling)
	}
	for _, svc := range provisioner.SandboxServices {
		if !emu.ServiceUsage.Enabled(proj, svc) {
			t.Errorf("%s not enabled in %s", svc, proj)
		}
	}

	// Custom roles: the deploy/roles definitions, in the sandbox project.
	for _, j := range config.Jobs {
		role, err := c.IAMAdmin.GetRole(ctx, &adminpb.GetRoleRequest{Name: "projects/" + proj + "/roles/" + j.RoleID(config.RoleProject)})
		if err != nil {
			t.Fatalf("role of job %s in %s: %v", j.Role, proj, err)
		}
		def, err := roles.Embedded(j.RoleFile(config.RoleProject))
		if err != nil {
			t.Fatal(err)
		}
		got, want := slices.Sorted(slices.Values(role.GetIncludedPermissions())), slices.Sorted(slices.Values(def.IncludedPermissions))
		if !slices.Equal(got, want) {
			t.Errorf("role %s in %s = %v, want %v", j.RoleID(config.RoleProject), proj, got, want)
		}
	}

	// The responder may stop this sandbox's VM through the sandbox
	// project's bindings, and no other VM of that project.
	responder := "serviceAccount:" + config.AccountEmail(config.AccountResponder, home)
	vm := "projects/" + proj + "/zones/" + cfg.Cloud.GCP.Zone + "/instances/"
	if !emu.IAM.Allowed(responder, "compute.instances.stop", vm+"sbx-one") {
		t.Error("the responder may not stop the sandbox's VM in its own project")
	}
	if emu.IAM.Allowed(responder, "compute.instances.stop", vm+"someone-elses-vm") {
		t.Error("the responder may stop another VM of the sandbox's project")
	}
	pol, _ := emu.ResourceManager.Policy(proj)
	for _, b := range pol.GetBindings() {
		if e := b.GetCondition().GetExpression(); strings.Count(e, "instances/") > 1 {
			t.Errorf("binding %s names more than one sandbox: %s", b.GetRole(), e)
		}
	}

	// The project's sink: to coopguard's logs topic in its own project,
	// its writer identity may publish there only.
	sink, err := c.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: "projects/" + proj + "/sinks/" + sb.Sink()})
	if err != nil {
		t.Fatal(err)
	}
	logs := "projects/" + home + "/topics/" + cfg.Coopguard.Topics.Logs
	if sink.GetDestination() != "pubsub.googleapis.com/"+logs {
		t.Errorf("sink destination = %s, want coopguard's logs topic %s", sink.GetDestination(), logs)
	}
	if !emu.IAM.Allowed(sink.GetWriterIdentity(), "pubsub.topics.publish", logs) {
		t.Errorf("writer identity %s may not publish to %s", sink.GetWriterIdentity(), logs)
	}
	if emu.IAM.Allowed(sink.GetWriterIdentity(), "pubsub.topics.publish", "projects/"+home+"/topics/"+cfg.Coopguard.Topics.Alerts) {
		t.Errorf("writer identity %s may publish to the alerts topic too", sink.GetWriterIdentity())
	}
	// An audited call in the sandbox's project reaches the logs topic.
	published := len(emu.PubSub.Messages())
	op, err := emu.Clients(ctx, proj)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if _, err := op.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: proj, FirewallResource: &computepb.Firewall{
		Name: proto.String("opened-by-hand"), Network: proto.String("global/networks/" + sb.Network()),
		SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}}}); err != nil {
		t.Fatal(err)
	}
	var routed bool
	for _, m := range emu.PubSub.Messages()[published:] {
		if m.Topic == logs && strings.Contains(string(m.Data), "projects/"+proj+"/logs/cloudaudit.googleapis.com") {
			routed = true
		}
	}
	if !routed {
		t.Errorf("no audit entry of %s reached %s", proj, logs)
	}

	// Converged: the second run changes nothing.
	before = emu.Faults.TotalMutations()
	rep, err = provisioner.RunSandbox(ctx, c, retry.Default, sb, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := emu.Faults.TotalMutations() - before; d != 0 {
		t.Errorf("second converge made %d mutating calls: %v", d, changed(rep))
	}
	if ch := changed(rep); len(ch) != 0 {
		t.Errorf("second converge planned changes: %v", ch)
	}
}

// TestSandboxProjectRefusals: bad input is refused with an error saying
// what to do, and changes nothing.
func TestSandboxProjectRefusals(t *testing.T) {
	emu, cfg, c := setupFleet(t)
	ctx := context.Background()
	emu.ResourceManager.SeedProject("someone-elses")
	tests := []struct {
		name    string
		project string
		create  bool
		edit    func(*provisioner.Sandbox)
		want    []string
	}{
		{"someone else's project, adopt", "someone-elses", false, nil,
			[]string{"project someone-elses", "may not manage its IAM policy", "gcloud projects add-iam-policy-binding someone-elses --member=serviceAccount:coopguard-provisioner@"}},
		{"someone else's project id, create", "someone-elses", true, nil,
			[]string{"taken by a project coopguard cannot read", "gcloud projects add-iam-policy-binding someone-elses"}},
		{"absent project, not asked to create", "coopguard-sbx-none", false, nil,
			[]string{"project coopguard-sbx-none", "does not exist", "createProject"}},
		{"no billing account", "coopguard-sbx-nobill", true, func(sb *provisioner.Sandbox) { sb.BillingAccount = "" },
			[]string{"[coopguard.fleet] folder and billing_account"}},
		{"folder not the fleet's", "coopguard-sbx-folder", true, func(sb *provisioner.Sandbox) { sb.Folder = "folders/999" },
			[]string{"create project coopguard-sbx-folder under folders/999", "resourcemanager.projects.create"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := fleetSandbox(t, cfg, "sbx-bad", tt.project, tt.create)
			if tt.edit != nil {
				tt.edit(sb)
			}
			policyBefore, _ := emu.ResourceManager.Policy(tt.project)
			_, err := provisioner.RunSandbox(ctx, c, retry.Default, sb, false, nil)
			if err == nil {
				t.Fatal("converge succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v\nwant it to say %q", err, w)
				}
			}
			if tt.project != "someone-elses" && emu.ResourceManager.Exists(tt.project) {
				t.Errorf("project %s was created", tt.project)
			}
			if got := emu.Billing.Linked(tt.project); got != "" {
				t.Errorf("project %s was linked to %s", tt.project, got)
			}
			if after, _ := emu.ResourceManager.Policy(tt.project); !proto.Equal(policyBefore, after) {
				t.Errorf("policy of %s changed: %v → %v", tt.project, policyBefore, after)
			}
		})
	}
}
