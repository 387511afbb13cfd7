package audit_test

import (
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/iterator"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

const (
	project = "audit-proj"
	zone    = "us-central1-a"
	sandbox = "cc-sandbox@audit-proj.iam.gserviceaccount.com"
	someone = "someone@example.com"
)

// world is an emulated GCP whose audit entries are captured.
type world struct {
	emu *emulator.Emulator
	mu  sync.Mutex
	log []*loggingpb.LogEntry
}

func newWorld(t *testing.T) *world {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	w := &world{emu: emu}
	emu.Gate.Write = func(_ context.Context, e *loggingpb.LogEntry) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.log = append(w.log, e)
	}
	emu.ResourceManager.SeedProject(project)
	return w
}

// entries returns the captured audit entries of methodName.
func (w *world) entries(method string) []*auditpb.AuditLog {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*auditpb.AuditLog
	for _, e := range w.log {
		var a auditpb.AuditLog
		if e.GetProtoPayload().UnmarshalTo(&a) == nil && a.GetMethodName() == method {
			out = append(out, &a)
		}
	}
	return out
}

func (w *world) logNameOf(method string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.log {
		var a auditpb.AuditLog
		if e.GetProtoPayload().UnmarshalTo(&a) == nil && a.GetMethodName() == method {
			return e.GetLogName()
		}
	}
	return ""
}

func (w *world) clients(t *testing.T, principal string) *gcp.Clients {
	t.Helper()
	c, err := w.emu.ClientsAs(context.Background(), project, principal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestUnauthenticatedIsRefused: a call without an access token is
// UNAUTHENTICATED (gRPC) or 401 (REST), as on GCP.
func TestUnauthenticatedIsRefused(t *testing.T) {
	w := newWorld(t)
	c, err := gcp.New(context.Background(), project, gcp.Emulated(w.emu.ComputeURL, w.emu.GRPCAddr, w.emu.PubSubAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Secrets.GetSecret(context.Background(), &secretmanagerpb.GetSecretRequest{Name: "projects/" + project + "/secrets/x"})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetSecret without a token = %v, want Unauthenticated", err)
	}
	_, err = c.Instances.Get(context.Background(), &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm"})
	var ae *apierror.APIError
	if !errors.As(err, &ae) || ae.HTTPCode() != http.StatusUnauthorized {
		t.Errorf("instances.get without a token = %v, want 401", err)
	}
}

// TestDeniedCallIsAuditedWithStatus7: the sandbox's account trying to
// change the project's IAM policy is refused, and the Admin Activity log
// records it with status code 7 and the caller's email.
func TestDeniedCallIsAuditedWithStatus7(t *testing.T) {
	w := newWorld(t)
	c := w.clients(t, sandbox)
	_, err := c.Projects.SetIamPolicy(context.Background(), &iampb.SetIamPolicyRequest{Resource: "projects/" + project, Policy: &iampb.Policy{}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("SetIamPolicy by the sandbox = %v, want PermissionDenied", err)
	}
	got := w.entries("SetIamPolicy")
	if len(got) != 1 {
		t.Fatalf("%d SetIamPolicy audit entries, want 1", len(got))
	}
	a := got[0]
	if a.GetStatus().GetCode() != 7 || a.GetAuthenticationInfo().GetPrincipalEmail() != sandbox ||
		a.GetServiceName() != "cloudresourcemanager.googleapis.com" || a.GetResourceName() != "projects/"+project {
		t.Errorf("audit entry = %v", a)
	}
	if ln := w.logNameOf("SetIamPolicy"); ln != "projects/"+project+"/logs/"+audit.ActivityLog {
		t.Errorf("logName = %s, want the activity log", ln)
	}
	if info := a.GetAuthorizationInfo(); len(info) != 1 || info[0].GetGranted() || info[0].GetPermission() != "resourcemanager.projects.setIamPolicy" {
		t.Errorf("authorizationInfo = %v", info)
	}
}

// TestSetMetadataNeedsActAs: changing the metadata of a VM that runs as a
// service account needs iam.serviceAccounts.actAs on that account, besides
// compute.instances.setMetadata.
func TestSetMetadataNeedsActAs(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	operatorVM(t, op, &computepb.Instance{
		ServiceAccounts: []*computepb.ServiceAccount{{Email: proto.String(sandbox)}},
	})
	const role = "projects/" + project + "/roles/flagSetter"
	w.emu.IAM.DefineRole(role, []string{"compute.instances.get", "compute.instances.setMetadata", "compute.zoneOperations.get"})
	w.emu.ResourceManager.SetPolicy(project, &iampb.Policy{Bindings: []*iampb.Binding{{Role: role, Members: []string{"user:" + someone}}}})
	c := w.clients(t, someone)
	set := func() error {
		in, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm"})
		if err != nil {
			return err
		}
		op, err := c.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: project, Zone: zone, Instance: "vm",
			MetadataResource: &computepb.Metadata{Fingerprint: in.GetMetadata().Fingerprint, Items: []*computepb.Items{{Key: proto.String("k"), Value: proto.String("v")}}}})
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
	err := set()
	var ae *apierror.APIError
	if !errors.As(err, &ae) || ae.HTTPCode() != http.StatusForbidden || !strings.Contains(err.Error(), "iam.serviceAccounts.actAs") {
		t.Fatalf("setMetadata without actAs = %v, want 403 naming iam.serviceAccounts.actAs", err)
	}
	w.emu.IAM.Grant(audit.ServiceAccountResource(sandbox), "user:"+someone, "roles/iam.serviceAccountUser")
	if err := set(); err != nil {
		t.Fatalf("setMetadata with actAs: %v", err)
	}
	if got := w.entries("v1.compute.instances.setMetadata"); len(got) != 2 || got[0].GetStatus().GetCode() != 7 || got[1].GetStatus() != nil {
		t.Errorf("setMetadata audit entries = %v, want one denied then one allowed", got)
	}
}

// TestDataAccessFollowsAuditConfig: AccessSecretVersion is DATA_READ; its
// entry is written only when the project's audit config enables DATA_READ
// for Secret Manager and does not exempt the caller, names the version by
// project number, and goes to the data_access log.
func TestDataAccessFollowsAuditConfig(t *testing.T) {
	tests := []struct {
		name   string
		config []*iampb.AuditConfig
		want   int
	}{
		{"off by default", nil, 0},
		{"DATA_READ on secretmanager", []*iampb.AuditConfig{{Service: "secretmanager.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ}}}}, 1},
		{"allServices", []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ}}}}, 1},
		{"only ADMIN_READ", []*iampb.AuditConfig{{Service: "secretmanager.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_ADMIN_READ}}}}, 0},
		{"caller exempted", []*iampb.AuditConfig{{Service: "secretmanager.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ, ExemptedMembers: []string{"user:" + emulator.Operator}}}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.emu.SecretManager.SeedSecret(project, "k", []byte("payload"))
			w.emu.ResourceManager.SetPolicy(project, &iampb.Policy{AuditConfigs: tt.config})
			c := w.clients(t, emulator.Operator)
			if _, err := c.Secrets.AccessSecretVersion(context.Background(), &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + project + "/secrets/k/versions/1"}); err != nil {
				t.Fatal(err)
			}
			got := w.entries("google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion")
			if len(got) != tt.want {
				t.Fatalf("%d AccessSecretVersion entries, want %d", len(got), tt.want)
			}
			if tt.want == 0 {
				return
			}
			if want := "projects/" + resourcemanager.NumberOf(project) + "/secrets/k/versions/1"; got[0].GetResourceName() != want {
				t.Errorf("resourceName = %s, want %s", got[0].GetResourceName(), want)
			}
			if ln := w.logNameOf("google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"); !strings.HasSuffix(ln, "/logs/"+audit.DataAccessLog) {
				t.Errorf("logName = %s, want the data_access log", ln)
			}
		})
	}
}

// TestConditionalBinding: a binding with an IAM condition grants only
// where the condition holds (resource.name as the service writes it).
func TestConditionalBinding(t *testing.T) {
	w := newWorld(t)
	w.emu.SecretManager.SeedSecret(project, "mine", []byte("a"))
	w.emu.SecretManager.SeedSecret(project, "theirs", []byte("b"))
	num := resourcemanager.NumberOf(project)
	w.emu.ResourceManager.SetPolicy(project, &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{
		Role: "roles/secretmanager.secretAccessor", Members: []string{"serviceAccount:" + sandbox},
		Condition: &expr.Expr{Expression: `resource.name.startsWith("projects/` + num + `/secrets/mine")`},
	}}})
	c := w.clients(t, sandbox)
	for secret, want := range map[string]codes.Code{"mine": codes.OK, "theirs": codes.PermissionDenied} {
		_, err := c.Secrets.AccessSecretVersion(context.Background(), &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + project + "/secrets/" + secret + "/versions/1"})
		if status.Code(err) != want {
			t.Errorf("access %s = %v, want %v", secret, err, want)
		}
	}
}

// TestEveryServedMethodHasARow: a gRPC method the fakes register without
// a row in the table must be one they do not implement (UNIMPLEMENTED), so
// no call is ever served unchecked.
func TestEveryServedMethodHasARow(t *testing.T) {
	w := newWorld(t)
	conn, err := grpc.NewClient(w.emu.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+gcp.EmulatedToken(emulator.Operator))
	for name, info := range w.emu.GRPCServices() {
		for _, m := range info.Methods {
			full := "/" + name + "/" + m.Name
			if _, ok := audit.GRPC[full]; ok {
				continue
			}
			err := conn.Invoke(ctx, full, &emptypb.Empty{}, &emptypb.Empty{})
			if status.Code(err) != codes.Unimplemented {
				t.Errorf("%s has no row but answered %v", full, err)
			}
		}
	}
}

// TestServiceAccountCallsBelongToTheirProject: an IAM call naming
// projects/-/serviceAccounts/EMAIL is audited in the project that owns the
// account, where that project's sinks see it.
func TestServiceAccountCallsBelongToTheirProject(t *testing.T) {
	w := newWorld(t)
	c, err := admin.NewIamClient(context.Background(), append(gcp.EmulatedGRPC(w.emu.GRPCAddr), gcp.EmulatedIdentity(sandbox))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.CreateServiceAccountKey(context.Background(), &adminpb.CreateServiceAccountKeyRequest{Name: "projects/-/serviceAccounts/" + sandbox})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("CreateServiceAccountKey by the sandbox = %v, want PermissionDenied", err)
	}
	if ln := w.logNameOf("google.iam.admin.v1.CreateServiceAccountKey"); ln != "projects/"+project+"/logs/"+audit.ActivityLog {
		t.Errorf("logName = %q, want the activity log of %s", ln, project)
	}
}

// TestImageScanningReadsNeedTheirPermissions pins the Service Usage and
// Artifact Registry rows: an account without them is refused naming the
// permission, an operator is allowed.
func TestImageScanningReadsNeedTheirPermissions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func(c *gcp.Clients) error
		perm string
	}{
		{"GetService", func(c *gcp.Clients) error {
			_, err := c.ServiceUsage.GetService(ctx, &serviceusagepb.GetServiceRequest{Name: "projects/" + project + "/services/containerscanning.googleapis.com"})
			return err
		}, "serviceusage.services.get"},
		{"ListRepositories", func(c *gcp.Clients) error {
			_, err := c.Repositories.ListRepositories(ctx, &artifactregistrypb.ListRepositoriesRequest{Parent: "projects/" + project + "/locations/us-central1"}).Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			return err
		}, "artifactregistry.repositories.list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(w.clients(t, sandbox))
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "'"+tt.perm+"'") {
				t.Errorf("%s by the sandbox = %v, want PermissionDenied naming %s", tt.name, err, tt.perm)
			}
			if err := tt.call(w.clients(t, emulator.Operator)); err != nil {
				t.Errorf("%s by the operator = %v, want allowed", tt.name, err)
			}
		})
	}
}

// TestDisabledAccountTokensAreRefused: once a service account is disabled,
// its existing tokens are refused on every API — UNAUTHENTICATED on gRPC,
// 401 on REST, whether or not the account holds the permission, with no
// audit entry (there is no authenticated principal) — and the disable is
// an Admin Activity entry. Enabling it makes the same token work again
// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/disable,
// .../enable).
func TestDisabledAccountTokensAreRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.emu.IAMAdmin.SeedServiceAccount(project, "cc-sandbox")
	w.emu.SecretManager.SeedSecret(project, "key", []byte("v1"))
	w.emu.IAM.Grant("projects/"+project+"/secrets/key", "serviceAccount:"+sandbox, "roles/secretmanager.secretAccessor")
	op, sb := w.clients(t, emulator.Operator), w.clients(t, sandbox)
	calls := map[string]func() error{
		"secret read (gRPC)": func() error {
			_, err := sb.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + project + "/secrets/key/versions/latest"})
			return err
		},
		"own account (IAM gRPC)": func() error {
			_, err := sb.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: "projects/-/serviceAccounts/" + sandbox})
			return err
		},
		"instances.get (REST)": func() error {
			_, err := sb.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm"})
			return err
		},
	}
	if err := calls["secret read (gRPC)"](); err != nil {
		t.Fatalf("the enabled account reads its secret: %v", err)
	}
	name := "projects/" + project + "/serviceAccounts/" + sandbox
	for i := range 2 { // the second disable changes nothing and succeeds
		if err := op.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); err != nil {
			t.Fatalf("disable #%d: %v", i+1, err)
		}
	}
	if got, err := op.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name}); err != nil || !got.GetDisabled() {
		t.Fatalf("account after disable = %v, %v; want disabled", got, err)
	}
	if e := w.entries("google.iam.admin.v1.DisableServiceAccount"); len(e) != 2 || w.logNameOf("google.iam.admin.v1.DisableServiceAccount") != "projects/"+project+"/logs/"+audit.ActivityLog {
		t.Errorf("disable audit entries = %d in %q, want 2 Admin Activity", len(e), w.logNameOf("google.iam.admin.v1.DisableServiceAccount"))
	}
	before := len(w.entries("google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"))
	for what, call := range calls {
		err := call()
		var ae *apierror.APIError
		switch {
		case strings.Contains(what, "REST"):
			if !errors.As(err, &ae) || ae.HTTPCode() != http.StatusUnauthorized {
				t.Errorf("%s by the disabled account = %v, want 401", what, err)
			}
		case status.Code(err) != codes.Unauthenticated:
			t.Errorf("%s by the disabled account = %v, want UNAUTHENTICATED", what, err)
		}
	}
	if after := len(w.entries("google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion")); after != before {
		t.Errorf("refused reads wrote %d audit entries, want none", after-before)
	}
	// Its other tokens are the same account's: one its VM's metadata
	// server handed out, one minted for it by another principal.
	for what, tok := range map[string]string{
		"the VM's token": iam.VMToken("projects/"+project+"/zones/"+zone+"/instances/vm", sandbox),
		"a minted token": iam.MintedToken(someone, sandbox),
	} {
		o := w.emu.OptionsAs("")
		o.Token = tok
		c, err := gcp.New(ctx, project, o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + project + "/secrets/key/versions/latest"})
		c.Close()
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s of the disabled account = %v, want UNAUTHENTICATED", what, err)
		}
	}
	// A disabled account cannot enable itself: its token is refused first.
	if err := sb.IAMAdmin.EnableServiceAccount(ctx, &adminpb.EnableServiceAccountRequest{Name: name}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("self-enable = %v, want UNAUTHENTICATED", err)
	}
	if err := op.IAMAdmin.EnableServiceAccount(ctx, &adminpb.EnableServiceAccountRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if err := calls["secret read (gRPC)"](); err != nil {
		t.Errorf("the re-enabled account's same token = %v, want accepted", err)
	}
	// Enabling needs iam.serviceAccounts.enable: someone without it is denied.
	if err := w.clients(t, someone).IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("disable by someone without the permission = %v, want PERMISSION_DENIED", err)
	}
}

// TestCreateSnapshotNeedsSetLabels: a snapshot of a disk carries labels
// from its creation, so creating one needs compute.snapshots.setLabels
// besides compute.disks.createSnapshot and compute.snapshots.create (the
// stricter model, as a VM's creation with labels; FIDELITY.md).
func TestCreateSnapshotNeedsSetLabels(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	operatorVM(t, op, &computepb.Instance{})
	snapshot := func(name string) error {
		op, err := w.clients(t, someone).Disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: project, Zone: zone, Disk: "vm",
			SnapshotResource: &computepb.Snapshot{Name: proto.String(name), Labels: map[string]string{"k": "v"}}})
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
	const role = "projects/" + project + "/roles/snapshotter"
	w.emu.IAM.DefineRole(role, []string{"compute.disks.createSnapshot", "compute.snapshots.create", "compute.zoneOperations.get"})
	w.emu.ResourceManager.SetPolicy(project, &iampb.Policy{Bindings: []*iampb.Binding{{Role: role, Members: []string{"user:" + someone}}}})
	err := snapshot("s1")
	var ae *apierror.APIError
	if !errors.As(err, &ae) || ae.HTTPCode() != http.StatusForbidden || !strings.Contains(err.Error(), "compute.snapshots.setLabels") {
		t.Fatalf("createSnapshot without compute.snapshots.setLabels = %v, want 403 naming it", err)
	}
	w.emu.IAM.DefineRole(role, []string{"compute.disks.createSnapshot", "compute.snapshots.create", "compute.snapshots.setLabels", "compute.zoneOperations.get"})
	if err := snapshot("s2"); err != nil {
		t.Fatalf("createSnapshot with compute.snapshots.setLabels: %v", err)
	}
}

// operatorVM creates, as op, the VM "vm" with a 10 GB boot disk named
// after it, completing vm (extra fields: service account, metadata), and
// waits for it to run.
func operatorVM(t *testing.T, op *gcp.Clients, vm *computepb.Instance) {
	t.Helper()
	ctx := context.Background()
	vm.Name = proto.String("vm")
	vm.MachineType = proto.String("zones/" + zone + "/machineTypes/e2-small")
	vm.Disks = []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
		InitializeParams: &computepb.AttachedDiskInitializeParams{DiskName: proto.String("vm"), DiskSizeGb: proto.Int64(10)}}}
	ins, err := op.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zone, InstanceResource: vm})
	if err == nil {
		err = ins.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}
