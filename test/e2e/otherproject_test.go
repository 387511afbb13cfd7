package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
)

// sandboxElsewhere readies project other for a sandbox name that the
// test then provisions there, on GCP's clock: the sandbox's key, as the
// operator fills it before the clock starts (Provision makes the secret;
// it finds this one); the project, linked to a billing account by the
// operator through the official client (Provision checks it before
// enabling the project's APIs); and coopguard's job roles there, which
// Provision does not grant in a project it did not create (403 on
// compute.instances.get): the operator does.
func sandboxElsewhere(t *testing.T, s *sandboxWorld, other, name, key string) {
	t.Helper()
	s.emu.SecretManager.SeedVersions(other, s.cfg.SandboxSecrets(name)[0], []byte(key))
	s.emu.GCPTime()
	s.emu.ResourceManager.SeedProject(other)
	const account = "billingAccounts/0A0A0A-1B1B1B-2C2C2C"
	s.emu.Billing.SeedAccount(account, true)
	if _, err := s.operator.Billing.UpdateProjectBillingInfo(context.Background(), &billingpb.UpdateProjectBillingInfoRequest{
		Name: "projects/" + other, ProjectBillingInfo: &billingpb.ProjectBillingInfo{BillingAccountName: account},
	}); err != nil {
		t.Fatalf("link %s to %s: %v", other, account, err)
	}
	grantJobRoles(t, s.world, other)
}

// TestContainInTheSandboxesOwnProject: a sandbox Provision built in
// another project than coopguard's own is contained there when its
// account reads its key from outside GCP: its VM stopped, its account
// disabled, its key's versions disabled, all in its project; nothing in
// coopguard's project changes. resolve --restore gives it back. On GCP's
// clock (a stop takes 90 s).
func TestContainInTheSandboxesOwnProject(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	const other, name = "sandbox-two-proj", "away-sandbox"
	sandboxElsewhere(t, s, other, name, "sk-away-key")
	home := s.cfg.Cloud.GCP.Project

	if code, rep := s.provision(t, `{"project":"`+other+`","name":"`+name+`"}`); code != http.StatusOK {
		t.Fatalf("provision %s/%s = %d: %+v\n%s", other, name, code, rep.Failed(), s.logs)
	}
	id, err := provisioner.ServiceAccountID(name)
	if err != nil {
		t.Fatal(err)
	}
	sandboxSA := config.AccountEmail(id, other)
	key := "projects/" + other + "/secrets/" + s.cfg.SandboxSecrets(name)[0]
	// The key's one version predates the incident by far: no rotation
	// happened since (restore checks).
	for _, v := range s.emu.SecretManager.Versions(key) {
		s.emu.SecretManager.SetVersionCreateTime(v.GetName(), s.emu.Clock.Now().Add(-24*time.Hour))
	}
	homeBefore := s.homeState(t)

	// Its account reads its key from outside GCP, as GCP logs it in its
	// project.
	read := strings.NewReplacer(home, other, "someone@example.com", sandboxSA,
		"/secrets/anthropic-api-key/", "/secrets/"+s.cfg.SandboxSecrets(name)[0]+"/").
		Replace(string(s.alert(t, "logentry-secret-access-unknown-principal.json",
			"2026-11-22T09:52:09.870Z", s.emu.Clock.Now().UTC().Format(time.RFC3339Nano))))
	if code := s.postEvent(t, "HandleLogEntry", binary, []byte(read), nil); code != http.StatusOK {
		t.Fatalf("HandleLogEntry = %d\n%s", code, s.logs)
	}
	var incID string
	for _, r := range s.incidents(t) {
		if r.Instance == name && r.Incident.Project == other {
			incID = r.Incident.ID
		}
	}
	if incID == "" {
		t.Fatalf("no incident on %s/%s: %v\n%s", other, name, s.incidents(t), s.logs)
	}
	for i := 0; s.vm(t, other, name).GetStatus() != "TERMINATED"; i++ {
		if i == 10 {
			t.Fatalf("%s/%s is %s ten emulated minutes after containment\n%s", other, name, s.vm(t, other, name).GetStatus(), s.logs)
		}
		s.emu.Clock.Advance(time.Minute)
	}
	if !s.disabled(t, sandboxSA) {
		t.Errorf("account %s enabled after containment, want disabled", sandboxSA)
	}
	for _, v := range s.emu.SecretManager.Versions(key) {
		if v.GetState().String() == "ENABLED" {
			t.Errorf("version %s enabled after containment", v.GetName())
		}
	}
	if got := s.homeState(t); got != homeBefore {
		t.Errorf("coopguard's project changed by a containment in %s:\nbefore %s\nafter  %s", other, homeBefore, got)
	}

	code, res, body := s.resolve(t, `{"id":"`+incID+`","restore":true}`)
	if code != http.StatusOK {
		t.Fatalf("resolve --restore = %d %s\n%s", code, body, s.logs)
	}
	if res.Outcome != "resolved" {
		t.Errorf("outcome %q, want resolved", res.Outcome)
	}
	for i := 0; s.vm(t, other, name).GetStatus() != "RUNNING"; i++ {
		if i == 10 {
			t.Fatalf("%s/%s is %s ten emulated minutes after restore", other, name, s.vm(t, other, name).GetStatus())
		}
		s.emu.Clock.Advance(time.Minute)
	}
	if s.disabled(t, sandboxSA) {
		t.Errorf("account %s still disabled after restore", sandboxSA)
	}
	var enabled bool
	for _, v := range s.emu.SecretManager.Versions(key) {
		enabled = enabled || v.GetState().String() == "ENABLED"
	}
	if !enabled {
		t.Error("no version of the sandbox's key enabled after restore")
	}
	if got := s.homeState(t); got != homeBefore {
		t.Errorf("coopguard's project changed by a restore in %s:\nbefore %s\nafter  %s", other, homeBefore, got)
	}
}

// grantJobRoles gives coopguard's job accounts, in project, the roles
// they hold in coopguard's own project: the same bindings, at project
// level without the home project's conditions, set by the operator
// through the official client. (Provision
// does not yet grant them in a sandbox's project.)
func grantJobRoles(t *testing.T, w *world, project string) {
	t.Helper()
	ctx := context.Background()
	pol, err := w.operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + w.cfg.Cloud.GCP.Project, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := w.operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + project, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range pol.GetBindings() {
		// The home project's conditions name its own sandboxes: in a
		// project of one sandbox the role holds unconditionally.
		b = proto.Clone(b).(*iampb.Binding)
		b.Condition = nil
		cur.Bindings = append(cur.Bindings, b)
	}
	// Acting as the sandbox's account (creating its VM, starting it) is
	// granted at project level in a project of one sandbox.
	var actAs []string
	for _, a := range config.ActAsAccounts {
		actAs = append(actAs, "serviceAccount:"+config.AccountEmail(a, w.cfg.Cloud.GCP.Project))
	}
	cur.Bindings = append(cur.Bindings, &iampb.Binding{Role: "roles/iam.serviceAccountUser", Members: actAs})
	cur.Version = 3
	if _, err := w.operator.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + project, Policy: cur}); err != nil {
		t.Fatalf("grant coopguard's job roles in %s: %v", project, err)
	}
}

// homeState is what coopguard's own project's sandbox looks like: its
// VM's status, tags and labels, its account and its key's versions.
func (s *sandboxWorld) homeState(t *testing.T) string {
	t.Helper()
	inst := s.instance(t)
	b, err := json.Marshal([]any{inst.GetStatus(), inst.GetTags().GetItems(), inst.GetLabels(), s.disabled(t, s.cfg.Cloud.GCP.ServiceAccount), s.versionStates(t)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// vm is the instance name in project.
func (s *sandboxWorld) vm(t *testing.T, project, name string) interface{ GetStatus() string } {
	t.Helper()
	inst, _ := s.emu.Compute.Instance(project, s.cfg.Cloud.GCP.Zone, name)
	return inst
}

// disabled reports whether the service account email is disabled, as the
// operator reads it through the IAM API.
func (s *sandboxWorld) disabled(t *testing.T, email string) bool {
	t.Helper()
	sa, err := s.operator.IAMAdmin.GetServiceAccount(context.Background(), &adminpb.GetServiceAccountRequest{Name: "projects/-/serviceAccounts/" + email})
	if err != nil {
		t.Fatalf("read account %s: %v", email, err)
	}
	return sa.GetDisabled()
}
