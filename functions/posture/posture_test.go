package posture_test

import (
	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/demo"
	"github.com/cloudcoop/coopguard/test/emulator/eventarc"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

// keyValue is the demo key's payload; no report may ever contain it.
const keyValue = "sk-ant-api03-posturetestDoNotLeak0123456789"

// world is a provisioned demo sandbox on its own emulated GCP, seeded so
// that every check passes.
type world struct {
	emu     *emulator.Emulator
	cfg     *config.Config
	clients *gcp.Clients
	sb      *provisioner.Sandbox
	ctx     context.Context
}

func newWorld(t *testing.T) *world {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg := config.Demo()
	ctx := context.Background()
	if err := emu.DeployConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	clients, err := emu.Clients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	provClients, err := emu.ClientsAs(ctx, cfg.Cloud.GCP.Project, emulator.Provisioner(cfg.Cloud.GCP.Project))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { provClients.Close() })
	for _, id := range cfg.Coopguard.Secrets {
		emu.SecretManager.SeedSecret(cfg.Cloud.GCP.Project, id, []byte(keyValue))
	}
	p := provisioner.New(&cfg, provClients, func(*provisioner.Sandbox) string { return `logName:"cloudaudit.googleapis.com"` })
	if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	demo.SeedDemoPosture(emu, &cfg)
	sb, err := provisioner.NewSandbox(&cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return &world{emu: emu, cfg: &cfg, clients: clients, sb: sb, ctx: ctx}
}

func (w *world) input(t *testing.T) *posture.Input {
	t.Helper()
	in, err := posture.NewInput(w.cfg, w.emu.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (w *world) project() string { return w.cfg.Cloud.GCP.Project }

// vm returns the sandbox VM as the fake stores it.
func (w *world) vm(t *testing.T) *computepb.Instance {
	t.Helper()
	inst, ok := w.emu.Compute.Instance(w.project(), w.cfg.Cloud.GCP.Zone, w.cfg.VM.Name)
	if !ok {
		t.Fatal("sandbox VM missing after provision")
	}
	return inst
}

// reseedVM replaces the VM with a changed copy: drift that only a
// console click or a new VM makes (external IP, Shielded VM off, another
// service account) has no setter in the API.
func (w *world) reseedVM(t *testing.T, change func(*computepb.Instance)) {
	t.Helper()
	inst := w.vm(t)
	// Reseeding drops the old VM's disks; the fake makes a new boot disk.
	inst.Disks = nil
	change(inst)
	w.emu.Compute.SeedInstance(w.project(), w.cfg.Cloud.GCP.Zone, inst)
}

// setMetadata adds an item to the VM's metadata through the API.
func (w *world) setMetadata(t *testing.T, key, value string) {
	t.Helper()
	inst := w.vm(t)
	md := inst.GetMetadata()
	md.Items = append(md.Items, &computepb.Items{Key: proto.String(key), Value: proto.String(value)})
	if err := gcp.Wait(w.ctx)(w.clients.Instances.SetMetadata(w.ctx, &computepb.SetMetadataInstanceRequest{
		Project: w.project(), Zone: w.cfg.Cloud.GCP.Zone, Instance: inst.GetName(), MetadataResource: md,
	})); err != nil {
		t.Fatal(err)
	}
}

// editPolicy reads the project policy, lets change edit it and writes it
// back through the API with the given update mask.
func (w *world) editPolicy(t *testing.T, mask []string, change func(*iampb.Policy)) {
	t.Helper()
	res := "projects/" + w.project()
	// Version 3: the policy has conditional bindings (deploy's), whose
	// version-1 view cannot be written back.
	p, err := w.clients.Projects.GetIamPolicy(w.ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	change(p)
	req := &iampb.SetIamPolicyRequest{Resource: res, Policy: p}
	if mask != nil {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: mask}
	}
	if _, err := w.clients.Projects.SetIamPolicy(w.ctx, req); err != nil {
		t.Fatal(err)
	}
}

// editSandboxAccess drops the coopguard-sandboxes bindings drop selects
// and changes the others with change, in the version 3 policy.
func (w *world) editSandboxAccess(t *testing.T, drop func(*iampb.Binding) bool, change func(*iampb.Binding)) {
	t.Helper()
	res := "projects/" + w.project()
	p, err := w.clients.Projects.GetIamPolicy(w.ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	p.Bindings = slices.DeleteFunc(p.Bindings, func(b *iampb.Binding) bool {
		if b.GetCondition().GetTitle() != config.SandboxConditionTitle {
			return false
		}
		n++
		if drop(b) {
			return true
		}
		if change != nil {
			change(b)
		}
		return false
	})
	if n == 0 {
		t.Fatal("no coopguard-sandboxes binding to edit: deploy did not make one")
	}
	if _, err := w.clients.Projects.SetIamPolicy(w.ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: p}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) grant(t *testing.T, role string, cond *expr.Expr) {
	t.Helper()
	w.editPolicy(t, nil, func(p *iampb.Policy) {
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{"serviceAccount:" + w.cfg.Cloud.GCP.ServiceAccount}, Condition: cond})
		if cond != nil {
			p.Version = 3
		}
	})
}

func (w *world) insertFirewall(t *testing.T, fw *computepb.Firewall) {
	t.Helper()
	if fw.Network == nil {
		fw.Network = proto.String("projects/" + w.project() + "/global/networks/" + w.sb.Network())
	}
	if err := gcp.Wait(w.ctx)(w.clients.Firewalls.Insert(w.ctx, &computepb.InsertFirewallRequest{Project: w.project(), FirewallResource: fw})); err != nil {
		t.Fatal(err)
	}
}

// insertRoute adds a route as the operator, on the sandbox's network
// unless rt names another.
func (w *world) insertRoute(t *testing.T, rt *computepb.Route) {
	t.Helper()
	if rt.Network == nil {
		rt.Network = proto.String("projects/" + w.project() + "/global/networks/" + w.sb.Network())
	}
	if err := gcp.Wait(w.ctx)(w.clients.Routes.Insert(w.ctx, &computepb.InsertRouteRequest{Project: w.project(), RouteResource: rt})); err != nil {
		t.Fatal(err)
	}
}

// deleteRoute deletes a route as the operator.
func (w *world) deleteRoute(t *testing.T, name string) {
	t.Helper()
	if err := gcp.Wait(w.ctx)(w.clients.Routes.Delete(w.ctx, &computepb.DeleteRouteRequest{Project: w.project(), Route: name})); err != nil {
		t.Fatal(err)
	}
}

// provision builds another sandbox named name, as Provision does.
func (w *world) provision(t *testing.T, name string) {
	t.Helper()
	c, err := w.emu.ClientsAs(w.ctx, w.project(), emulator.Provisioner(w.project()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rep, err := provisioner.New(w.cfg, c, func(*provisioner.Sandbox) string { return `logName:"cloudaudit.googleapis.com"` }).
		Converge(w.ctx, provisioner.Options{Name: name})
	if err != nil {
		t.Fatalf("provision %s: %v", name, err)
	}
	for _, r := range rep.Resources {
		if r.Status == provisioner.StatusFailed {
			t.Fatalf("provision %s: %s/%s failed: %s", name, r.Kind, r.Name, r.Error)
		}
	}
}

func (w *world) secretName() string {
	return "projects/" + w.project() + "/secrets/" + w.cfg.Coopguard.Secrets[0]
}

func (w *world) alertPolicy(t *testing.T) *monitoringpb.AlertPolicy {
	t.Helper()
	return w.policyNamed(t, w.sb.AlertPolicyName())
}

func (w *world) policyNamed(t *testing.T, name string) *monitoringpb.AlertPolicy {
	t.Helper()
	for _, p := range w.emu.Monitoring.AlertPolicies(w.project()) {
		if p.GetDisplayName() == name {
			return p
		}
	}
	t.Fatalf("alert policy %q missing after provision", name)
	return nil
}

// updatePolicy updates the named policy's fields in mask from p.
func (w *world) updatePolicy(t *testing.T, name string, p *monitoringpb.AlertPolicy, mask ...string) {
	t.Helper()
	p.Name = w.policyNamed(t, name).GetName()
	if _, err := w.clients.AlertPolicies.UpdateAlertPolicy(w.ctx, &monitoringpb.UpdateAlertPolicyRequest{
		AlertPolicy: p, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
	}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) servicePolicy(t *testing.T, name string, members ...string) {
	t.Helper()
	res := "projects/" + w.project() + "/locations/" + w.cfg.Region() + "/services/" + name
	p, err := w.clients.Services.GetIamPolicy(w.ctx, &iampb.GetIamPolicyRequest{Resource: res})
	if err != nil {
		t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/run.invoker", Members: members})
	if _, err := w.clients.Services.SetIamPolicy(w.ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: p}); err != nil {
		t.Fatal(err)
	}
}

// result returns the named check's result from rep.
func result(t *testing.T, rep posture.Report, check string) posture.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no result for check %s in %+v", check, rep.Results)
	return posture.Result{}
}

// TestDemoPasses: a provisioned sandbox with the demo's seeding passes
// every check, which is what `coopguard serve` shows after `coopguard
// provision`.
func TestDemoPasses(t *testing.T) {
	w := newWorld(t)
	rep := posture.Run(w.ctx, w.clients, w.input(t))
	if len(rep.Results) != len(posture.Checks()) {
		t.Fatalf("%d results for %d checks", len(rep.Results), len(posture.Checks()))
	}
	for i, r := range rep.Results {
		if r.Check != posture.Checks()[i].Name() {
			t.Errorf("result %d is %s, want the list's order (%s)", i, r.Check, posture.Checks()[i].Name())
		}
		if r.Status != posture.Pass {
			t.Errorf("%s: %s: %s (fix: %s)", r.Check, r.Status, r.Evidence, r.Fix)
		}
		if r.Evidence == "" {
			t.Errorf("%s passed without evidence", r.Check)
		}
	}
	if !rep.OK() || rep.Project != w.project() || rep.Sandbox != w.cfg.VM.Name {
		t.Errorf("report = %+v", rep)
	}
}

// TestChecks makes each check fail (or, for lookalikes, still pass) by
// changing the emulated project the way drift happens, through the API
// where the API can.
// secretReads is the audit config Provision adds for the detection rules.
var secretReads = &iampb.AuditConfig{Service: "secretmanager.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ}}}

func TestChecks(t *testing.T) {
	tests := []struct {
		name   string
		check  string
		drift  func(t *testing.T, w *world)
		adjust func(in *posture.Input)
		want   posture.Status
		// evidence and fix must appear in the result.
		evidence, fix string
	}{
		// dedicated-service-account
		{"default compute SA", "dedicated-service-account", func(t *testing.T, w *world) {
			w.reseedVM(t, func(i *computepb.Instance) {
				i.ServiceAccounts[0].Email = proto.String("123456789012-compute@developer.gserviceaccount.com")
			})
		}, nil, posture.Fail, "default Compute service account", "set-service-account"},
		{"another SA", "dedicated-service-account", func(t *testing.T, w *world) {
			w.reseedVM(t, func(i *computepb.Instance) {
				i.ServiceAccounts[0].Email = proto.String("other@coopguard-local.iam.gserviceaccount.com")
			})
		}, nil, posture.Fail, "runs as other@", "set-service-account"},
		{"no VM", "dedicated-service-account", func(t *testing.T, w *world) {
			if err := gcp.Wait(w.ctx)(w.clients.Instances.Delete(w.ctx, &computepb.DeleteInstanceRequest{Project: w.project(), Zone: w.cfg.Cloud.GCP.Zone, Instance: w.cfg.VM.Name})); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "not found", "coopguard provision"},

		// service-account-roles
		{"editor", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/editor", nil) }, nil,
			posture.Fail, "has roles/editor", "remove-iam-policy-binding coopguard-local --member serviceAccount:cc-sandbox@coopguard-local.iam.gserviceaccount.com --role roles/editor"},
		{"owner", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/owner", nil) }, nil, posture.Fail, "has roles/owner", "--role roles/owner"},
		{"iam.*", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/iam.serviceAccountUser", nil) }, nil, posture.Fail, "roles/iam.serviceAccountUser", ""},
		{"compute.*", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/compute.admin", nil) }, nil, posture.Fail, "roles/compute.admin", ""},
		{"datastore.* (the incident store)", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/datastore.user", nil) }, nil, posture.Fail, "roles/datastore.user", ""},
		{"conditional storage.*", "service-account-roles", func(t *testing.T, w *world) {
			w.grant(t, "roles/storage.admin", &expr.Expr{Title: "until-friday", Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`})
		}, nil, posture.Fail, "roles/storage.admin (conditional: until-friday)", "--condition=all"},
		{"forbidden role of the VM's actual SA", "service-account-roles", func(t *testing.T, w *world) {
			other := "other@coopguard-local.iam.gserviceaccount.com"
			w.reseedVM(t, func(i *computepb.Instance) { i.ServiceAccounts[0].Email = proto.String(other) })
			w.editPolicy(t, nil, func(p *iampb.Policy) {
				p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/editor", Members: []string{"serviceAccount:" + other}})
			})
		}, nil, posture.Fail, "other@coopguard-local.iam.gserviceaccount.com has roles/editor", ""},
		{"project-wide secretAccessor", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/secretmanager.secretAccessor", nil) }, nil,
			posture.Fail, "cc-sandbox@coopguard-local.iam.gserviceaccount.com has roles/secretmanager.secretAccessor (secretmanager)", "--role roles/secretmanager.secretAccessor"},
		{"pubsub.*", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/pubsub.publisher", nil) }, nil, posture.Fail, "roles/pubsub.publisher (pubsub)", ""},
		{"viewer (basic)", "service-account-roles", func(t *testing.T, w *world) { w.grant(t, "roles/viewer", nil) }, nil, posture.Fail, "roles/viewer (basic role", ""},
		{"each role named", "service-account-roles", func(t *testing.T, w *world) {
			w.grant(t, "roles/secretmanager.viewer", nil)
			w.grant(t, "roles/storage.objectViewer", nil)
		}, nil, posture.Fail, "roles/secretmanager.viewer (secretmanager); cc-sandbox@coopguard-local.iam.gserviceaccount.com has roles/storage.objectViewer (storage)", ""},
		{"custom role reading secrets", "service-account-roles", func(t *testing.T, w *world) {
			w.emu.IAM.DefineRole("projects/coopguard-local/roles/agentTools", []string{"logging.logEntries.create", "secretmanager.versions.access", "pubsub.topics.publish"})
			w.grant(t, "projects/coopguard-local/roles/agentTools", nil)
		}, nil, posture.Fail, "has projects/coopguard-local/roles/agentTools (pubsub.topics.publish, secretmanager.versions.access)", "--role projects/coopguard-local/roles/agentTools"},
		{"custom role within logging", "service-account-roles", func(t *testing.T, w *world) {
			w.emu.IAM.DefineRole("projects/coopguard-local/roles/agentLogs", []string{"logging.logEntries.create"})
			w.grant(t, "projects/coopguard-local/roles/agentLogs", nil)
		}, nil, posture.Pass, "projects/coopguard-local/roles/agentLogs", ""},
		{"custom role that does not exist", "service-account-roles", func(t *testing.T, w *world) {
			w.grant(t, "projects/coopguard-local/roles/gone", nil)
		}, nil, posture.Error, "read custom role projects/coopguard-local/roles/gone", ""},
		{"person is owner, SA is not", "service-account-roles", func(t *testing.T, w *world) {
			w.editPolicy(t, nil, func(p *iampb.Policy) {
				p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/editor", Members: []string{"user:dev@example.com"}})
			})
		}, nil, posture.Pass, "roles/logging.logWriter", ""},

		// ssh-iap-only
		{"SSH from anywhere", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-ssh"), SourceRanges: []string{"0.0.0.0/0"},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}})
		}, nil, posture.Fail, "rule allow-ssh allows tcp:22 from 0.0.0.0/0", "firewall-rules delete allow-ssh"},
		{"any port from anywhere", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-web"), SourceRanges: []string{"0.0.0.0/0"},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"80", "443"}}}})
		}, nil, posture.Fail, "allows tcp:80,443 from 0.0.0.0/0", ""},
		{"IPv6 anywhere", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-v6"), SourceRanges: []string{"::/0"},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("all")}}})
		}, nil, posture.Fail, "from ::/0", ""},
		{"SSH port range from a corporate range", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-office"), SourceRanges: []string{"203.0.113.0/24", provisioner.IAPRange},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"20-30"}}}})
		}, nil, posture.Fail, "rule allow-office allows SSH from 203.0.113.0/24", "--source-ranges 35.235.240.0/20"},
		{"SSH from other VMs by tag", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-bastion"), SourceTags: []string{"bastion"},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}})
		}, nil, posture.Fail, "SSH from tag bastion", ""},
		{"IAP rule deleted", "ssh-iap-only", func(t *testing.T, w *world) {
			if err := gcp.Wait(w.ctx)(w.clients.Firewalls.Delete(w.ctx, &computepb.DeleteFirewallRequest{Project: w.project(), Firewall: w.sb.FirewallIAPSSH()})); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "no enabled IAP SSH rule", "coopguard provision"},
		{"open rule disabled", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-ssh"), SourceRanges: []string{"0.0.0.0/0"}, Disabled: proto.Bool(true),
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}})
		}, nil, posture.Pass, "SSH only from 35.235.240.0/20", ""},
		{"open rule for a tag the VM lacks", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-web"), SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{"web"},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"80"}}}})
		}, nil, posture.Pass, "", ""},
		{"open rule for a tag the VM has", "ssh-iap-only", func(t *testing.T, w *world) {
			w.insertFirewall(t, &computepb.Firewall{Name: proto.String("allow-web"), SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{"web"},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"80"}}}})
			w.reseedVM(t, func(i *computepb.Instance) { i.Tags = &computepb.Tags{Items: []string{"web"}} })
		}, nil, posture.Fail, "allow-web", ""},

		// no-external-ip
		{"external IP", "no-external-ip", func(t *testing.T, w *world) {
			w.reseedVM(t, func(i *computepb.Instance) {
				i.NetworkInterfaces[0].AccessConfigs = []*computepb.AccessConfig{{Name: proto.String("External NAT"), NatIP: proto.String("198.51.100.7"), Type: proto.String("ONE_TO_ONE_NAT")}}
			})
		}, nil, posture.Fail, `access config "External NAT" (198.51.100.7)`, `delete-access-config claude-sandbox --zone us-central1-a --project coopguard-local --network-interface nic0 --access-config-name "External NAT"`},
		{"no VM", "no-external-ip", func(t *testing.T, w *world) {
			if err := gcp.Wait(w.ctx)(w.clients.Instances.Delete(w.ctx, &computepb.DeleteInstanceRequest{Project: w.project(), Zone: w.cfg.Cloud.GCP.Zone, Instance: w.cfg.VM.Name})); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "not found", ""},

		// own-vpc
		{"VM on the default network", "own-vpc", func(t *testing.T, w *world) {
			if err := w.emu.Compute.CreateDefaultNetwork(w.project()); err != nil {
				t.Fatal(err)
			}
			w.reseedVM(t, func(i *computepb.Instance) {
				i.NetworkInterfaces[0].Network = proto.String("global/networks/default")
				i.NetworkInterfaces[0].Subnetwork = nil
			})
		}, nil, posture.Fail, "nic0 on network default, not its own VPC coopguard-claude-sandbox-net", "rebuild: coopguard provision --project coopguard-local --name NEW-NAME"},
		{"no VM", "own-vpc", func(t *testing.T, w *world) {
			if err := gcp.Wait(w.ctx)(w.clients.Instances.Delete(w.ctx, &computepb.DeleteInstanceRequest{Project: w.project(), Zone: w.cfg.Cloud.GCP.Zone, Instance: w.cfg.VM.Name})); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "not found", ""},

		// egress-route
		{"egress route deleted", "egress-route", func(t *testing.T, w *world) { w.deleteRoute(t, w.sb.EgressRoute()) }, nil,
			posture.Fail, "no route coopguard-claude-sandbox-egress", "coopguard provision"},
		{"a route of someone else's on the network", "egress-route", func(t *testing.T, w *world) {
			w.insertRoute(t, &computepb.Route{Name: proto.String("via-box"), DestRange: proto.String("0.0.0.0/0"), Priority: proto.Uint32(0), NextHopIp: proto.String("10.128.0.99")})
		}, nil, posture.Fail, "via-box (0.0.0.0/0 via 10.128.0.99, priority 0)", "gcloud compute routes delete via-box"},
		{"egress route replaced by one via another box", "egress-route", func(t *testing.T, w *world) {
			w.deleteRoute(t, w.sb.EgressRoute())
			w.insertRoute(t, &computepb.Route{Name: proto.String(w.sb.EgressRoute()), DestRange: proto.String("0.0.0.0/0"), NextHopIp: proto.String("10.128.0.99")})
		}, nil, posture.Fail, "sends 0.0.0.0/0 via 10.128.0.99", "coopguard provision"},
		{"a route on another network", "egress-route", func(t *testing.T, w *world) {
			if err := gcp.Wait(w.ctx)(w.clients.Networks.Insert(w.ctx, &computepb.InsertNetworkRequest{Project: w.project(),
				NetworkResource: &computepb.Network{Name: proto.String("team-net"), AutoCreateSubnetworks: proto.Bool(false)}})); err != nil {
				t.Fatal(err)
			}
			w.insertRoute(t, &computepb.Route{Name: proto.String("team-via-box"), Network: proto.String("global/networks/team-net"),
				DestRange: proto.String("0.0.0.0/0"), NextHopIp: proto.String("10.128.0.99")})
		}, nil, posture.Pass, "leaves only through coopguard-claude-sandbox-egress", ""},

		// shielded-vm
		{"vTPM off", "shielded-vm", func(t *testing.T, w *world) {
			w.reseedVM(t, func(i *computepb.Instance) { i.ShieldedInstanceConfig.EnableVtpm = proto.Bool(false) })
		}, nil, posture.Fail, "vTPM off", "--shielded-vtpm"},
		// A VM made without Shielded VM options gets GCP's defaults
		// (secure boot off only); all three off takes saying so.
		{"not shielded at all", "shielded-vm", func(t *testing.T, w *world) {
			w.reseedVM(t, func(i *computepb.Instance) {
				i.ShieldedInstanceConfig = &computepb.ShieldedInstanceConfig{
					EnableSecureBoot: proto.Bool(false), EnableVtpm: proto.Bool(false), EnableIntegrityMonitoring: proto.Bool(false),
				}
			})
		}, nil, posture.Fail, "secure boot, vTPM, integrity monitoring off", ""},
		{"made without Shielded VM options", "shielded-vm", func(t *testing.T, w *world) {
			w.reseedVM(t, func(i *computepb.Instance) { i.ShieldedInstanceConfig = nil })
		}, nil, posture.Fail, "VM claude-sandbox: secure boot off", "--shielded-secure-boot"},

		// api-key-in-secret-manager
		{"every version disabled", "api-key-in-secret-manager", func(t *testing.T, w *world) {
			for _, v := range w.emu.SecretManager.Versions(w.secretName()) {
				if _, err := w.clients.Secrets.DisableSecretVersion(w.ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: v.GetName()}); err != nil {
					t.Fatal(err)
				}
			}
		}, nil, posture.Fail, "no ENABLED version", "gcloud secrets versions add anthropic-api-key"},
		{"secret deleted", "api-key-in-secret-manager", func(t *testing.T, w *world) {
			if err := w.clients.Secrets.DeleteSecret(w.ctx, &secretmanagerpb.DeleteSecretRequest{Name: w.secretName()}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "does not exist", "coopguard provision"},

		// secrets-per-sandbox
		{"two sandboxes, each its own", "secrets-per-sandbox", func(t *testing.T, w *world) { w.provision(t, "sbx2") },
			nil, posture.Pass, "each of 2 sandbox(es) (claude-sandbox, sbx2) has its own managed secrets", ""},
		{"another sandbox's account granted the key", "secrets-per-sandbox", func(t *testing.T, w *world) {
			// What a sandbox provisioned before secrets were per sandbox
			// kept: a grant on the configured sandbox's key.
			w.provision(t, "sbx2")
			pol, err := w.clients.Secrets.GetIamPolicy(w.ctx, &iampb.GetIamPolicyRequest{Resource: w.secretName()})
			if err != nil {
				t.Fatal(err)
			}
			pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/secretmanager.secretAccessor", Members: []string{"serviceAccount:sandbox-sbx2@coopguard-local.iam.gserviceaccount.com"}})
			if _, err := w.clients.Secrets.SetIamPolicy(w.ctx, &iampb.SetIamPolicyRequest{Resource: w.secretName(), Policy: pol}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "secret anthropic-api-key (claude-sandbox's) grants roles/secretmanager.secretAccessor to sbx2's account sandbox-sbx2@coopguard-local.iam.gserviceaccount.com",
			"gcloud secrets remove-iam-policy-binding anthropic-api-key --project coopguard-local --member=serviceAccount:sandbox-sbx2@coopguard-local.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor"},
		{"a sandbox whose name gives a configured secret", "secrets-per-sandbox", func(t *testing.T, w *world) {
			// A VM labelled as sandbox sbx2 while coopguard.secrets also
			// names anthropic-api-key-sbx2 (Provision refuses to build it).
			inst := proto.Clone(w.vm(t)).(*computepb.Instance)
			inst.Name, inst.Id, inst.Disks = proto.String("sbx2"), nil, nil
			inst.Labels = map[string]string{config.SandboxLabel: "sbx2"}
			w.emu.Compute.SeedInstance(w.project(), w.cfg.Cloud.GCP.Zone, inst)
			w.cfg.Coopguard.Secrets = append(w.cfg.Coopguard.Secrets, "anthropic-api-key-sbx2")
		}, nil, posture.Fail, `sandbox "sbx2" would get secret "anthropic-api-key-sbx2", which is the configured sandbox's secret`, "give each sandbox its own secrets"},

		// no-key-in-metadata
		{"older cloudcoop: key in metadata", "no-key-in-metadata", func(t *testing.T, w *world) {
			w.setMetadata(t, "anthropic-api-key", keyValue)
		}, nil, posture.Fail, `"anthropic-api-key" (named after the managed secret; value withheld)`, "remove-metadata claude-sandbox --zone us-central1-a --project coopguard-local --keys anthropic-api-key"},
		{"env-style key", "no-key-in-metadata", func(t *testing.T, w *world) { w.setMetadata(t, "ANTHROPIC_API_KEY", keyValue) }, nil, posture.Fail, "ANTHROPIC_API_KEY", ""},
		{"key inside another item", "no-key-in-metadata", func(t *testing.T, w *world) {
			w.setMetadata(t, "agent-env", "export ANTHROPIC="+keyValue)
		}, nil, posture.Fail, `"agent-env" (value contains an Anthropic API key`, ""},
		{"harmless items", "no-key-in-metadata", func(t *testing.T, w *world) { w.setMetadata(t, "agent-count", "4") }, nil, posture.Pass, "none holds a key", ""},

		// sandbox-access
		{"responder's sandbox binding removed", "sandbox-access", func(t *testing.T, w *world) {
			w.editSandboxAccess(t, func(b *iampb.Binding) bool { return strings.Contains(b.GetRole(), "coopguardResponderSandbox") }, nil)
		}, nil, posture.Fail, "not named in the coopguard-sandboxes condition of coopguard-responder (coopguardResponderSandbox): coopguard cannot contain", "coopguard provision"},
		{"condition names another sandbox", "sandbox-access", func(t *testing.T, w *world) {
			w.editSandboxAccess(t, func(*iampb.Binding) bool { return false }, func(b *iampb.Binding) {
				b.Condition.Expression = config.SandboxCondition(w.project(), w.cfg.Cloud.GCP.Zone, []string{"other-sandbox"})
			})
		}, nil, posture.Fail, "coopguard-responder (coopguardResponderSandbox), coopguard-restorer (coopguardRestorerSandbox)", "deploy/deploy.sh"},

		// audit-logging
		{"DATA_WRITE off", "audit-logging", func(t *testing.T, w *world) {
			w.editPolicy(t, []string{"auditConfigs"}, func(p *iampb.Policy) {
				p.AuditConfigs = []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_ADMIN_READ}}}, secretReads}
			})
		}, nil, posture.Fail, "DATA_WRITE off (on: ADMIN_READ)", "set-iam-policy coopguard-local"},
		{"no audit configs", "audit-logging", func(t *testing.T, w *world) {
			w.editPolicy(t, []string{"auditConfigs"}, func(p *iampb.Policy) { p.AuditConfigs = nil })
		}, nil, posture.Fail, "ADMIN_READ, DATA_WRITE off (on: none)", ""},
		{"secret reads not audited", "audit-logging", func(t *testing.T, w *world) {
			w.editPolicy(t, []string{"auditConfigs"}, func(p *iampb.Policy) { p.AuditConfigs = p.AuditConfigs[:1] })
		}, nil, posture.Fail, "DATA_READ audit logs off for secretmanager.googleapis.com", ""},
		{"only one service audited", "audit-logging", func(t *testing.T, w *world) {
			w.editPolicy(t, []string{"auditConfigs"}, func(p *iampb.Policy) {
				p.AuditConfigs = []*iampb.AuditConfig{{Service: "secretmanager.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{
					{LogType: iampb.AuditLogConfig_ADMIN_READ}, {LogType: iampb.AuditLogConfig_DATA_WRITE}, {LogType: iampb.AuditLogConfig_DATA_READ}}}}
			})
		}, nil, posture.Fail, "allServices audit logs ADMIN_READ, DATA_WRITE off", ""},
		{"sandbox SA exempted", "audit-logging", func(t *testing.T, w *world) {
			w.editPolicy(t, []string{"auditConfigs"}, func(p *iampb.Policy) {
				p.AuditConfigs[0].AuditLogConfigs[1].ExemptedMembers = []string{"serviceAccount:" + w.cfg.Cloud.GCP.ServiceAccount}
			})
		}, nil, posture.Fail, "is exempted from DATA_WRITE", ""},
		{"bindings changed, audit configs kept", "audit-logging", func(t *testing.T, w *world) {
			w.editPolicy(t, nil, func(p *iampb.Policy) { p.AuditConfigs = nil })
		}, nil, posture.Pass, "ADMIN_READ, DATA_WRITE on", ""},

		// alert-policies
		{"policy disabled", "alert-policies", func(t *testing.T, w *world) {
			p := w.alertPolicy(t)
			if _, err := w.clients.AlertPolicies.UpdateAlertPolicy(w.ctx, &monitoringpb.UpdateAlertPolicyRequest{
				AlertPolicy: &monitoringpb.AlertPolicy{Name: p.GetName(), Enabled: wrapperspb.Bool(false)},
				UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"enabled"}},
			}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "is disabled", "--enabled"},
		{"policy deleted", "alert-policies", func(t *testing.T, w *world) {
			if err := w.clients.AlertPolicies.DeleteAlertPolicy(w.ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: w.alertPolicy(t).GetName()}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, `no alert policy "coopguard claude-sandbox CPU"`, "coopguard provision"},
		{"policy notifies no channel", "alert-policies", func(t *testing.T, w *world) {
			p := w.alertPolicy(t)
			if _, err := w.clients.AlertPolicies.UpdateAlertPolicy(w.ctx, &monitoringpb.UpdateAlertPolicyRequest{
				AlertPolicy: &monitoringpb.AlertPolicy{Name: p.GetName()},
				UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"notification_channels"}},
			}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "notifies no channel, no enabled channel to projects/coopguard-local/topics/coopguard-alerts", ""},
		{"alerts topic deleted", "alert-policies", func(t *testing.T, w *world) {
			if err := w.clients.PubSub.TopicAdminClient.DeleteTopic(w.ctx, &pubsubpb.DeleteTopicRequest{Topic: w.sb.TopicPath(w.cfg.Coopguard.Topics.Alerts)}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "topic projects/coopguard-local/topics/coopguard-alerts does not exist", ""},
		{"incident policy deleted", "alert-policies", func(t *testing.T, w *world) {
			if err := w.clients.AlertPolicies.DeleteAlertPolicy(w.ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: w.policyNamed(t, w.sb.IncidentPolicyName()).GetName()}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, `no alert policy "coopguard claude-sandbox incidents": nobody is told`, "coopguard provision"},
		{"incident policy matches other logs", "alert-policies", func(t *testing.T, w *world) {
			p := proto.Clone(w.policyNamed(t, w.sb.IncidentPolicyName())).(*monitoringpb.AlertPolicy)
			p.Conditions[0].GetConditionMatchedLog().Filter = `logName="projects/coopguard-local/logs/elsewhere"`
			w.updatePolicy(t, w.sb.IncidentPolicyName(), p, "conditions")
		}, nil, posture.Fail, "no longer has coopguard's condition", "coopguard provision"},
		{"dead-letter policy notifies nobody", "alert-policies", func(t *testing.T, w *world) {
			w.updatePolicy(t, provisioner.DeadLetterPolicyName, &monitoringpb.AlertPolicy{}, "notification_channels")
		}, nil, posture.Fail, `alert policy "coopguard dead-letter events" does not notify ` + config.DemoChannel, "coopguard provision"},
		{"weekly review policy deleted", "alert-policies", func(t *testing.T, w *world) {
			if err := w.clients.AlertPolicies.DeleteAlertPolicy(w.ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: w.policyNamed(t, provisioner.ReviewPolicyName).GetName()}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, `no alert policy "coopguard weekly review": nobody is told`, "coopguard provision"},
		{"operator's channel disabled", "alert-policies", func(t *testing.T, w *world) {
			if _, err := w.clients.Channels.UpdateNotificationChannel(w.ctx, &monitoringpb.UpdateNotificationChannelRequest{
				NotificationChannel: &monitoringpb.NotificationChannel{Name: config.DemoChannel, Enabled: wrapperspb.Bool(false)},
				UpdateMask:          &fieldmaskpb.FieldMask{Paths: []string{"enabled"}},
			}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "is disabled: nobody is told", "--enabled"},
		{"no channels configured", "alert-policies", nil, func(in *posture.Input) {
			in.Sandbox.NotifyChannels = nil
		}, posture.Fail, "no [coopguard.notify] channels", "[coopguard.notify] channels"},

		// log-sink
		{"sink deleted", "log-sink", func(t *testing.T, w *world) {
			if err := w.clients.LogConfig.DeleteSink(w.ctx, &loggingpb.DeleteSinkRequest{SinkName: "projects/" + w.project() + "/sinks/" + w.sb.Sink()}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "no log sink projects/coopguard-local/sinks/coopguard-claude-sandbox-sink", "coopguard provision"},
		{"sink disabled and elsewhere", "log-sink", func(t *testing.T, w *world) {
			if _, err := w.clients.LogConfig.UpdateSink(w.ctx, &loggingpb.UpdateSinkRequest{
				SinkName:   "projects/" + w.project() + "/sinks/" + w.sb.Sink(),
				Sink:       &loggingpb.LogSink{Name: w.sb.Sink(), Disabled: true, Destination: "pubsub.googleapis.com/projects/coopguard-local/topics/elsewhere"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled", "destination"}},
				// The sink has a unique writer identity: an update must send it again.
				UniqueWriterIdentity: true,
			}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "disabled, routes to pubsub.googleapis.com/projects/coopguard-local/topics/elsewhere", ""},
		{"logs topic deleted", "log-sink", func(t *testing.T, w *world) {
			if err := w.clients.PubSub.TopicAdminClient.DeleteTopic(w.ctx, &pubsubpb.DeleteTopicRequest{Topic: w.sb.TopicPath(w.cfg.Coopguard.Topics.Logs)}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "coopguard-logs, which does not exist", ""},

		// key-rotation
		{"key older than max_age", "key-rotation", func(t *testing.T, w *world) {
			for _, v := range w.emu.SecretManager.Versions(w.secretName()) {
				w.emu.SecretManager.SetVersionCreateTime(v.GetName(), w.emu.Clock.Now().Add(-100*24*time.Hour))
			}
		}, nil, posture.Fail, "newest ENABLED version 1 is 100d old (max_age 90d)", "coopguard rotate"},
		{"schedule overdue", "key-rotation", nil, func(in *posture.Input) { in.Now = in.Now.Add(91 * 24 * time.Hour) },
			posture.Fail, "has passed", "coopguard provision"},
		{"no schedule", "key-rotation", func(t *testing.T, w *world) {
			if _, err := w.clients.Secrets.UpdateSecret(w.ctx, &secretmanagerpb.UpdateSecretRequest{
				Secret:     &secretmanagerpb.Secret{Name: w.secretName()},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rotation"}},
			}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "no rotation schedule", "coopguard provision"},
		{"no enabled version", "key-rotation", func(t *testing.T, w *world) {
			for _, v := range w.emu.SecretManager.Versions(w.secretName()) {
				if _, err := w.clients.Secrets.DisableSecretVersion(w.ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: v.GetName()}); err != nil {
					t.Fatal(err)
				}
			}
		}, nil, posture.Fail, "no ENABLED version", ""},

		// functions-authenticated
		{"public invoker", "functions-authenticated", func(t *testing.T, w *world) { w.servicePolicy(t, "coopguard-status", "allUsers") }, nil,
			posture.Fail, "coopguard-status grants roles/run.invoker to allUsers", "remove-iam-policy-binding coopguard-status --region us-central1 --project coopguard-local --member allUsers --role roles/run.invoker"},
		{"any Google account", "functions-authenticated", func(t *testing.T, w *world) {
			w.servicePolicy(t, "coopguard-provision", "allAuthenticatedUsers")
		}, nil, posture.Fail, "coopguard-provision grants roles/run.invoker to allAuthenticatedUsers", ""},
		{"invoker IAM check off", "functions-authenticated", func(t *testing.T, w *world) {
			w.emu.Run.SetInvokerIAMDisabled(w.project(), w.cfg.Region(), "coopguard-handle-alert", true)
		}, nil, posture.Fail, "coopguard-handle-alert has the invoker IAM check disabled", "--invoker-iam-check"},
		{"not deployed", "functions-authenticated", nil, func(in *posture.Input) { in.Services = append(in.Services, "coopguard-extra") },
			posture.Fail, "coopguard-extra not deployed in us-central1", "make deploy PROJECT=coopguard-local REGION=us-central1"},
		{"deployed elsewhere", "functions-authenticated", nil, func(in *posture.Input) { in.Region = "europe-west1" },
			posture.Fail, "coopguard-provision not deployed in europe-west1", ""},

		// image-scanning
		{"scanning API off", "image-scanning", func(t *testing.T, w *world) {
			w.emu.ServiceUsage.Enable(w.project(), posture.ScanningAPI, false)
		}, nil, posture.Fail, "containerscanning.googleapis.com is not enabled: images in sandbox-images are not scanned",
			"gcloud services enable containerscanning.googleapis.com --project coopguard-local"},
		{"repository with scanning disabled", "image-scanning", func(t *testing.T, w *world) {
			w.emu.ArtifactRegistry.SeedRepository(w.project(), w.cfg.Region(), "legacy", artifactregistrypb.Repository_DOCKER,
				artifactregistrypb.Repository_VulnerabilityScanningConfig_DISABLED)
		}, nil, posture.Fail, "legacy has vulnerability scanning off",
			"gcloud artifacts repositories update legacy --location us-central1 --project coopguard-local --allow-vulnerability-scanning"},
		{"no Docker repository", "image-scanning", func(t *testing.T, w *world) {
			w.emu.ArtifactRegistry.SeedRepository(w.project(), "europe-west1", "jars", artifactregistrypb.Repository_MAVEN,
				artifactregistrypb.Repository_VulnerabilityScanningConfig_DISABLED)
		}, func(in *posture.Input) { in.Region = "europe-west1" },
			posture.Pass, "not applicable: no Artifact Registry Docker repository in europe-west1", ""},
		{"all scanned", "image-scanning", func(t *testing.T, w *world) {
			w.emu.ArtifactRegistry.SeedRepository(w.project(), w.cfg.Region(), "more", artifactregistrypb.Repository_DOCKER,
				artifactregistrypb.Repository_VulnerabilityScanningConfig_ENABLEMENT_CONFIG_UNSPECIFIED)
		}, nil, posture.Pass, "containerscanning.googleapis.com on; scanning active in more, sandbox-images (us-central1)", ""},

		// metric-descriptors
		{"as Provision made them", "metric-descriptors", nil, nil, posture.Pass,
			"custom.googleapis.com/coopguard/incident GAUGE DOUBLE; custom.googleapis.com/coopguard/rotation_due GAUGE INT64", ""},
		{"sandbox redefined the incident metric", "metric-descriptors", func(t *testing.T, w *world) {
			// metricWriter lets the sandbox's own account update a custom descriptor.
			sbx, err := w.emu.ClientsAs(w.ctx, w.project(), w.cfg.Cloud.GCP.ServiceAccount)
			if err != nil {
				t.Fatal(err)
			}
			defer sbx.Close()
			if _, err := sbx.Metrics.CreateMetricDescriptor(w.ctx, &monitoringpb.CreateMetricDescriptorRequest{Name: "projects/" + w.project(), MetricDescriptor: &metric.MetricDescriptor{
				Type: "custom.googleapis.com/coopguard/incident", MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_STRING,
			}}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "custom.googleapis.com/coopguard/incident has value type STRING, want DOUBLE: coopguard's points are refused", "coopguard provision"},
		{"descriptor deleted", "metric-descriptors", func(t *testing.T, w *world) {
			if err := w.clients.Metrics.DeleteMetricDescriptor(w.ctx, &monitoringpb.DeleteMetricDescriptorRequest{Name: "projects/" + w.project() + "/metricDescriptors/custom.googleapis.com/coopguard/rotation_due"}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "no metric descriptor custom.googleapis.com/coopguard/rotation_due", "coopguard provision"},

		// listening
		{"pipeline whole", "listening", nil, nil, posture.Pass, "log sink coopguard-claude-sandbox-sink enabled; topics coopguard-logs and coopguard-alerts exist, each with a subscription", ""},
		{"sink disabled", "listening", func(t *testing.T, w *world) {
			if _, err := w.clients.LogConfig.UpdateSink(w.ctx, &loggingpb.UpdateSinkRequest{SinkName: "projects/" + w.project() + "/sinks/" + w.sb.Sink(),
				Sink: &loggingpb.LogSink{Name: w.sb.Sink(), Disabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}}, UniqueWriterIdentity: true}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "coopguard is deaf: log sink coopguard-claude-sandbox-sink is disabled", "coopguard provision"},
		{"trigger's subscription deleted", "listening", func(t *testing.T, w *world) {
			if _, err := w.emu.PubSub.GServer.DeleteSubscription(w.ctx, &pubsubpb.DeleteSubscriptionRequest{
				Subscription: "projects/" + w.project() + "/subscriptions/" + eventarc.SubscriptionID("coopguard-logs", "/HandleLogEntry")}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "topic coopguard-logs has no subscription: its function's trigger is gone", "make deploy"},
		{"alerts topic deleted", "listening", func(t *testing.T, w *world) {
			if _, err := w.emu.PubSub.GServer.DeleteTopic(w.ctx, &pubsubpb.DeleteTopicRequest{Topic: "projects/" + w.project() + "/topics/coopguard-alerts"}); err != nil {
				t.Fatal(err)
			}
		}, nil, posture.Fail, "topic coopguard-alerts is missing", "coopguard provision"},
		// budget
		{"present", "budget", nil, nil, posture.Pass, "budget 100 USD a month, notifying coopguard-budgets", ""},
		{"budgets off", "budget", nil, func(in *posture.Input) {
			c := *in.Config
			c.Coopguard.Budget.BillingAccount = ""
			in.Config = &c
		}, posture.Fail, "billing_account is not set", "coopguard.budget.billing_account"},
		{"budget deleted", "budget", func(t *testing.T, w *world) {
			for _, b := range w.emu.Budgets.Budgets() {
				if _, err := w.emu.Budgets.DeleteBudget(w.ctx, &budgetspb.DeleteBudgetRequest{Name: b.GetName()}); err != nil {
					t.Fatal(err)
				}
			}
		}, nil, posture.Fail, "has no budget for sandbox claude-sandbox", "coopguard provision"},
		{"budget notifies another topic", "budget", func(t *testing.T, w *world) {
			for _, b := range w.emu.Budgets.Budgets() {
				b.NotificationsRule.PubsubTopic = "projects/" + w.project() + "/topics/elsewhere"
				if _, err := w.emu.Budgets.UpdateBudget(w.ctx, &budgetspb.UpdateBudgetRequest{Budget: b}); err != nil {
					t.Fatal(err)
				}
			}
		}, nil, posture.Fail, "not coopguard's topic", "coopguard provision"},
	}
	for _, tt := range tests {
		t.Run(tt.check+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			if tt.drift != nil {
				tt.drift(t, w)
			}
			in := w.input(t)
			if tt.adjust != nil {
				tt.adjust(in)
			}
			rep := posture.Run(w.ctx, w.clients, in)
			got := result(t, rep, tt.check)
			if got.Status != tt.want || !strings.Contains(got.Evidence, tt.evidence) || !strings.Contains(got.Fix, tt.fix) {
				t.Errorf("%s = %s\n  evidence: %s\n  fix: %s\nwant %s with evidence containing %q and fix containing %q",
					tt.check, got.Status, got.Evidence, got.Fix, tt.want, tt.evidence, tt.fix)
			}
			if got.Status == posture.Fail && got.Fix == "" {
				t.Errorf("%s fails without a fix", tt.check)
			}
			raw, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), keyValue) || strings.Contains(string(raw), "sk-ant-") {
				t.Errorf("report contains the key: %s", raw)
			}
			if rep.OK() != (got.Status == posture.Pass && len(rep.Failing()) == 0) {
				t.Errorf("OK() = %v with failing %v", rep.OK(), rep.Failing())
			}
		})
	}
}

// TestReadErrors: a check that cannot read reports error (not pass, not
// fail) with the permission to grant, and the other checks still run.
func TestReadErrors(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		fault   faults.Fault
		timeout time.Duration
		checks  []string
		fix     string
	}{
		{"IAM policy denied", "google.cloud.resourcemanager.v3.Projects/GetIamPolicy", faults.Fault{Code: codes.PermissionDenied},
			0, []string{"service-account-roles", "audit-logging", "sandbox-access"}, "grant resourcemanager.projects.getIamPolicy"},
		{"Cloud Run unavailable", "google.cloud.run.v2.Services/ListServices", faults.Fault{Code: codes.Internal},
			0, []string{"functions-authenticated"}, "retry"},
		{"Artifact Registry denied", "google.devtools.artifactregistry.v1.ArtifactRegistry/ListRepositories", faults.Fault{Code: codes.PermissionDenied},
			0, []string{"image-scanning"}, "grant artifactregistry.repositories.list"},
		// Two checks read the sink (log-sink, listening): both reads hang.
		// The bound cuts the hang, and must leave the other checks' reads
		// time to finish on a loaded machine: 2 s did not, beside the
		// rest of the suite under the race detector.
		{"sink read hangs", "google.logging.v2.ConfigServiceV2/GetSink", faults.Fault{Hang: true},
			10 * time.Second, []string{"log-sink", "listening"}, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			calls := 1
			if tt.method == "google.logging.v2.ConfigServiceV2/GetSink" {
				calls = 2
			}
			w.emu.Faults.FailNext(tt.method, calls, tt.fault)
			in := w.input(t)
			if tt.timeout > 0 {
				in.Timeout = tt.timeout
			}
			rep := posture.Run(w.ctx, w.clients, in)
			for _, r := range rep.Results {
				wantErr := false
				for _, c := range tt.checks {
					wantErr = wantErr || r.Check == c
				}
				switch {
				case wantErr && (r.Status != posture.Error || !strings.Contains(r.Fix, tt.fix)):
					t.Errorf("%s = %s (%s; fix %s), want error with fix containing %q", r.Check, r.Status, r.Evidence, r.Fix, tt.fix)
				case !wantErr && r.Status != posture.Pass:
					t.Errorf("%s = %s (%s): one check's read error must not affect the others", r.Check, r.Status, r.Evidence)
				}
			}
			if rep.OK() || len(rep.Failing()) != 0 || len(rep.Errored()) != len(tt.checks) {
				t.Errorf("OK %v, failing %v, errored %v", rep.OK(), rep.Failing(), rep.Errored())
			}
		})
	}
}

// TestReadsAreShared: the VM and the project policy are read once per run
// however many checks need them, and no check mutates anything.
func TestReadsAreShared(t *testing.T) {
	w := newWorld(t)
	w.emu.Faults.Reset()
	posture.Run(w.ctx, w.clients, w.input(t))
	if n := w.emu.Faults.Calls("compute.instances.get"); n != 1 {
		t.Errorf("instances.get called %d times, want 1", n)
	}
	if n := w.emu.Faults.Calls("google.cloud.resourcemanager.v3.Projects/GetIamPolicy"); n != 1 {
		t.Errorf("GetIamPolicy called %d times, want 1", n)
	}
	if n := w.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("posture made %d mutating calls: %v", n, w.emu.Faults.MutationSnapshot())
	}
}
