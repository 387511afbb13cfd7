package resourcemanager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	rmapi "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// start serves a fresh fake on loopback and returns it with an official
// client connected over gRPC.
func start(t *testing.T) (*resourcemanager.Server, *rmapi.ProjectsClient) {
	t.Helper()
	fake := resourcemanager.New(func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) })
	return fake, grpctest.Client(t, grpctest.Serve(t, fake.Register), rmapi.NewProjectsClient)
}

func auditAll() []*iampb.AuditConfig {
	return []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{
		{LogType: iampb.AuditLogConfig_ADMIN_READ}, {LogType: iampb.AuditLogConfig_DATA_WRITE},
	}}}
}

func TestGetIamPolicy(t *testing.T) {
	fake, c := start(t)
	ctx := context.Background()
	fake.SetPolicy("p", &iampb.Policy{
		Bindings:     []*iampb.Binding{{Role: "roles/logging.logWriter", Members: []string{"serviceAccount:sa@p.iam.gserviceaccount.com"}}},
		AuditConfigs: auditAll(),
	})
	tests := []struct {
		name     string
		resource string
		want     codes.Code
	}{
		{"seeded", "projects/p", codes.OK},
		{"unknown project is denied, not not-found", "projects/nope", codes.PermissionDenied},
		{"bad name", "project/p", codes.InvalidArgument},
		{"nested name", "projects/p/x", codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: tt.resource})
			grpctest.WantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if len(got.GetBindings()) != 1 || len(got.GetAuditConfigs()) != 1 || len(got.GetEtag()) == 0 || got.GetVersion() != 1 {
				t.Errorf("policy = %v", got)
			}
		})
	}
	t.Run("clone on read", func(t *testing.T) {
		got, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/p"})
		if err != nil {
			t.Fatal(err)
		}
		got.Bindings[0].Role = "roles/owner"
		if p, _ := fake.Policy("p"); p.Bindings[0].Role != "roles/logging.logWriter" {
			t.Errorf("stored policy changed through a returned copy: %v", p)
		}
	})
}

func TestSetIamPolicy(t *testing.T) {
	ctx := context.Background()
	editor := []*iampb.Binding{{Role: "roles/editor", Members: []string{"user:a@example.com"}}}
	tests := []struct {
		name  string
		req   func(etag []byte) *iampb.SetIamPolicyRequest
		want  codes.Code
		check func(t *testing.T, p *iampb.Policy)
	}{
		{"bindings with current etag", func(etag []byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{Bindings: editor, Etag: etag}}
		}, codes.OK, func(t *testing.T, p *iampb.Policy) {
			if len(p.Bindings) != 1 || p.Bindings[0].Role != "roles/editor" {
				t.Errorf("bindings = %v", p.Bindings)
			}
			if len(p.AuditConfigs) != 1 {
				t.Errorf("default mask must keep audit configs, got %v", p.AuditConfigs)
			}
		}},
		{"stale etag", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{Bindings: editor, Etag: []byte("BwYold")}}
		}, codes.Aborted, nil},
		{"audit configs need the mask", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"auditConfigs"}}}
		}, codes.OK, func(t *testing.T, p *iampb.Policy) {
			if len(p.AuditConfigs) != 0 {
				t.Errorf("audit configs = %v, want cleared", p.AuditConfigs)
			}
			if len(p.Bindings) != 1 {
				t.Errorf("mask auditConfigs must keep bindings, got %v", p.Bindings)
			}
		}},
		{"bad member", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/viewer", Members: []string{"alice"}}}}}
		}, codes.InvalidArgument, nil},
		{"bad role", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "viewer", Members: []string{"user:a@example.com"}}}}}
		}, codes.InvalidArgument, nil},
		{"condition without version 3", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/viewer", Members: []string{"user:a@example.com"}, Condition: &expr.Expr{Expression: "true"}}}}}
		}, codes.InvalidArgument, nil},
		{"condition with version 3", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: "roles/viewer", Members: []string{"user:a@example.com"}, Condition: &expr.Expr{Expression: "true"}}}}}
		}, codes.OK, func(t *testing.T, p *iampb.Policy) {
			if p.Version != 3 {
				t.Errorf("version = %d, want 3", p.Version)
			}
		}},
		{"unknown project", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/nope", Policy: &iampb.Policy{}}
		}, codes.PermissionDenied, nil},
		{"bad mask", func([]byte) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/p", Policy: &iampb.Policy{}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}}
		}, codes.InvalidArgument, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := start(t)
			fake.SetPolicy("p", &iampb.Policy{
				Bindings:     []*iampb.Binding{{Role: "roles/viewer", Members: []string{"user:v@example.com"}}},
				AuditConfigs: auditAll(),
			})
			before, _ := fake.Policy("p")
			got, err := c.SetIamPolicy(ctx, tt.req(before.Etag))
			grpctest.WantCode(t, err, tt.want)
			after, _ := fake.Policy("p")
			if err != nil {
				if string(after.Etag) != string(before.Etag) {
					t.Error("a refused SetIamPolicy changed the policy")
				}
				return
			}
			if string(got.Etag) == string(before.Etag) {
				t.Error("etag not renewed")
			}
			tt.check(t, after)
		})
	}
}

func TestGetProject(t *testing.T) {
	fake, c := start(t)
	fake.SeedProject("p")
	got, err := c.GetProject(context.Background(), &resourcemanagerpb.GetProjectRequest{Name: "projects/p"})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("projects/%d", resourcemanager.ProjectNumber("p")); got.ProjectId != "p" || got.State != resourcemanagerpb.Project_ACTIVE || got.Name != want {
		t.Errorf("project = %v, want id p, ACTIVE, name %s", got, want)
	}
	_, err = c.GetProject(context.Background(), &resourcemanagerpb.GetProjectRequest{Name: "projects/other"})
	grpctest.WantCode(t, err, codes.PermissionDenied)
}

func TestProjectNumber(t *testing.T) {
	seen := map[int64]string{}
	for _, id := range []string{"p", "other", "coopguard-demo", "my-project-123"} {
		n := resourcemanager.ProjectNumber(id)
		if n < 100000000000 || n > 999999999999 {
			t.Errorf("ProjectNumber(%q) = %d, want 12 digits", id, n)
		}
		if n != resourcemanager.ProjectNumber(id) {
			t.Errorf("ProjectNumber(%q) is not stable", id)
		}
		if prev, dup := seen[n]; dup {
			t.Errorf("ProjectNumber(%q) = ProjectNumber(%q) = %d", id, prev, n)
		}
		seen[n] = id
	}
}
