package billing_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

const (
	folder  = "folders/424242424242"
	account = "billingAccounts/0A1B2C-3D4E5F-6A7B8C"
	creator = "fleet-creator@home-project.iam.gserviceaccount.com"
)

func start(t *testing.T) (*emulator.Emulator, *gcp.Clients, *gcp.Clients) {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	emu.ResourceManager.SeedProject("home-project")
	emu.ResourceManager.SeedFolder(folder, "organizations/1", "sandboxes")
	emu.Billing.SeedAccount(account, true)
	ctx := context.Background()
	op, err := emu.Clients(ctx, "home-project")
	if err != nil {
		t.Fatal(err)
	}
	as, err := emu.ClientsAs(ctx, "home-project", creator)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close(); _ = as.Close() })
	return emu, op, as
}

func grant(t *testing.T, get func() (*iampb.Policy, error), set func(*iampb.Policy) error, member, role string) {
	t.Helper()
	p, err := get()
	if err != nil {
		t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
	if err := set(p); err != nil {
		t.Fatal(err)
	}
}

// TestCreateProjectUnderFolder pins projects.create: the caller needs
// resourcemanager.projects.create on the parent folder; the id follows
// the id rule and is unique (ALREADY_EXISTS, whoever holds it); the
// project answers with its parent, and its creator is its owner; a
// binding on the folder holds on the projects under it.
func TestCreateProjectUnderFolder(t *testing.T) {
	emu, op, as := start(t)
	ctx := context.Background()
	create := func(c *gcp.Clients, id, parent string) (*resourcemanagerpb.Project, error) {
		o, err := c.Projects.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: id, Parent: parent}})
		if err != nil {
			return nil, err
		}
		return o.Wait(ctx)
	}
	if _, err := create(as, "sandbox-one", folder); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("create without resourcemanager.projects.create on the folder = %v, want PermissionDenied", err)
	}
	if emu.ResourceManager.Exists("sandbox-one") {
		t.Fatal("a refused create made the project")
	}
	grant(t, func() (*iampb.Policy, error) {
		return op.Folders.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: folder})
	}, func(p *iampb.Policy) error {
		_, err := op.Folders.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: folder, Policy: p})
		return err
	}, "serviceAccount:"+creator, "roles/resourcemanager.projectCreator")

	for _, tt := range []struct{ id, parent string }{
		{"short", folder}, {"1starts-with-digit", folder}, {"ends-with-hyphen-", folder}, {"Upper-Case-id", folder},
		{"sandbox-one", ""}, {"sandbox-one", "billingAccounts/1"},
	} {
		// As the operator, whom the gate lets through anywhere: the
		// service itself refuses.
		if _, err := create(op, tt.id, tt.parent); status.Code(err) != codes.InvalidArgument {
			t.Errorf("create %q under %q = %v, want InvalidArgument", tt.id, tt.parent, err)
		}
	}
	p, err := create(as, "sandbox-one", folder)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetParent() != folder || p.GetProjectId() != "sandbox-one" || p.GetState() != resourcemanagerpb.Project_ACTIVE {
		t.Errorf("created project = %v, want sandbox-one ACTIVE under %s", p, folder)
	}
	pol, ok := emu.ResourceManager.Policy("sandbox-one")
	if !ok || len(pol.GetBindings()) != 1 || pol.GetBindings()[0].GetRole() != "roles/owner" || pol.GetBindings()[0].GetMembers()[0] != "serviceAccount:"+creator {
		t.Errorf("new project's policy = %v, want its creator as roles/owner only", pol)
	}
	if _, err := create(as, "sandbox-one", folder); status.Code(err) != codes.AlreadyExists {
		t.Errorf("create an existing id = %v, want AlreadyExists", err)
	}
	if _, err := create(op, "home-project", folder); status.Code(err) != codes.AlreadyExists {
		t.Errorf("create another's project id = %v, want AlreadyExists", err)
	}

	// Inheritance: a viewer binding on the folder holds on the project.
	const reader = "fleet-reader@home-project.iam.gserviceaccount.com"
	rc, err := emu.ClientsAs(ctx, "home-project", reader)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/sandbox-one"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("GetProject before the folder grant = %v, want PermissionDenied", err)
	}
	grant(t, func() (*iampb.Policy, error) {
		return op.Folders.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: folder})
	}, func(p *iampb.Policy) error {
		_, err := op.Folders.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: folder, Policy: p})
		return err
	}, "serviceAccount:"+reader, "roles/viewer")
	if _, err := rc.Projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/sandbox-one"}); err != nil {
		t.Errorf("GetProject with roles/viewer on its folder = %v, want allowed", err)
	}
	if _, err := rc.Projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/home-project"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetProject of a project outside the folder = %v, want PermissionDenied", err)
	}
}

// TestUpdateBillingInfo pins projects.updateBillingInfo: linking needs
// billing.resourceAssociations.create on the account (roles/billing.user)
// besides the project's createBillingAssignment; an unknown account is
// refused; billingEnabled follows whether the account is open.
func TestUpdateBillingInfo(t *testing.T) {
	emu, op, as := start(t)
	ctx := context.Background()
	emu.ResourceManager.UpdatePolicy("sandbox-two", func(p *iampb.Policy) {
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/owner", Members: []string{"serviceAccount:" + creator}})
	})
	link := func(c *gcp.Clients, acct string) (*billingpb.ProjectBillingInfo, error) {
		return c.Billing.UpdateProjectBillingInfo(ctx, &billingpb.UpdateProjectBillingInfoRequest{Name: "projects/sandbox-two",
			ProjectBillingInfo: &billingpb.ProjectBillingInfo{BillingAccountName: acct}})
	}
	if _, err := link(as, account); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("link without billing.resourceAssociations.create on the account = %v, want PermissionDenied", err)
	}
	if got := emu.Billing.Linked("sandbox-two"); got != "" {
		t.Fatalf("a refused link linked %s", got)
	}
	grant(t, func() (*iampb.Policy, error) {
		return op.Billing.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: account})
	}, func(p *iampb.Policy) error {
		_, err := op.Billing.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: account, Policy: p})
		return err
	}, "serviceAccount:"+creator, "roles/billing.user")
	if _, err := link(as, "billingAccounts/FFFFFF-FFFFFF-FFFFFF"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("link to an unknown account = %v, want PermissionDenied", err)
	}
	if _, err := link(as, "0A1B2C-3D4E5F-6A7B8C"); status.Code(err) == codes.OK {
		t.Errorf("link to an account id without billingAccounts/ succeeded")
	}
	info, err := link(as, account)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetBillingAccountName() != account || !info.GetBillingEnabled() || info.GetName() != "projects/sandbox-two/billingInfo" {
		t.Errorf("linked info = %v, want %s enabled", info, account)
	}
	emu.Billing.SeedAccount(account, false)
	got, err := as.Billing.GetProjectBillingInfo(ctx, &billingpb.GetProjectBillingInfoRequest{Name: "projects/sandbox-two"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetBillingAccountName() != account || got.GetBillingEnabled() {
		t.Errorf("info with the account closed = %v, want linked, billing disabled", got)
	}
}

// TestEnableServiceNeedsBilling pins services.enable: a project without
// an open billing account is refused FAILED_PRECONDITION with reason
// UREQ_PROJECT_BILLING_NOT_FOUND; once linked, the service is ENABLED.
func TestEnableServiceNeedsBilling(t *testing.T) {
	emu, op, _ := start(t)
	ctx := context.Background()
	emu.ResourceManager.SeedProject("sandbox-three")
	enable := func() error {
		o, err := op.ServiceUsage.EnableService(ctx, &serviceusagepb.EnableServiceRequest{Name: "projects/sandbox-three/services/compute.googleapis.com"})
		if err != nil {
			return err
		}
		_, err = o.Wait(ctx)
		return err
	}
	err := enable()
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "Billing must be enabled") {
		t.Fatalf("enable without billing = %v, want FailedPrecondition naming billing", err)
	}
	if emu.ServiceUsage.Enabled("sandbox-three", "compute.googleapis.com") {
		t.Fatal("a refused enable enabled the service")
	}
	if _, err := op.Billing.UpdateProjectBillingInfo(ctx, &billingpb.UpdateProjectBillingInfoRequest{Name: "projects/sandbox-three",
		ProjectBillingInfo: &billingpb.ProjectBillingInfo{BillingAccountName: account}}); err != nil {
		t.Fatal(err)
	}
	if err := enable(); err != nil {
		t.Fatal(err)
	}
	got, err := op.ServiceUsage.GetService(ctx, &serviceusagepb.GetServiceRequest{Name: "projects/sandbox-three/services/compute.googleapis.com"})
	if err != nil || got.GetState() != serviceusagepb.State_ENABLED {
		t.Errorf("service after enable = %v, %v; want ENABLED", got, err)
	}
}
