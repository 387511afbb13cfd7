package secretmanager_test

import (
	"context"
	"slices"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func accessor(member string) []*iampb.Binding {
	return []*iampb.Binding{{Role: "roles/secretmanager.secretAccessor", Members: []string{member}}}
}

func TestSecretIamPolicy(t *testing.T) {
	fake, c, _ := start(t)
	ctx := context.Background()
	fake.SeedSecret("coopguard-demo", "anthropic-api-key", []byte("sk"))
	const secret = "projects/coopguard-demo/secrets/anthropic-api-key"
	const sa = "serviceAccount:sandbox@coopguard-demo.iam.gserviceaccount.com"

	empty, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: secret})
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.GetBindings()) != 0 || len(empty.GetEtag()) == 0 {
		t.Fatalf("new secret's policy = %v, want no bindings and an etag", empty)
	}

	tests := []struct {
		name  string
		req   func(cur *iampb.Policy) *iampb.SetIamPolicyRequest
		want  codes.Code
		check func(t *testing.T, p *iampb.Policy)
	}{
		{"binding with current etag", func(cur *iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: secret, Policy: &iampb.Policy{Bindings: accessor(sa), Etag: cur.Etag}}
		}, codes.OK, func(t *testing.T, p *iampb.Policy) {
			if len(p.Bindings) != 1 || p.Bindings[0].Members[0] != sa || p.Version != 1 {
				t.Errorf("policy = %v", p)
			}
		}},
		{"stale etag", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: secret, Policy: &iampb.Policy{Bindings: accessor(sa), Etag: empty.Etag}}
		}, codes.Aborted, nil},
		{"by project number, no etag", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: byNumber(secret), Policy: &iampb.Policy{Bindings: accessor("user:op@example.com")}}
		}, codes.OK, func(t *testing.T, p *iampb.Policy) {
			if p.Bindings[0].Members[0] != "user:op@example.com" {
				t.Errorf("policy = %v", p)
			}
		}},
		{"conditional binding needs version 3", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			b := accessor(sa)
			b[0].Condition = &expr.Expr{Expression: `request.time < timestamp("2027-01-01T00:00:00Z")`}
			return &iampb.SetIamPolicyRequest{Resource: secret, Policy: &iampb.Policy{Bindings: b}}
		}, codes.InvalidArgument, nil},
		{"conditional binding with version 3", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			b := accessor(sa)
			b[0].Condition = &expr.Expr{Expression: `request.time < timestamp("2027-01-01T00:00:00Z")`}
			return &iampb.SetIamPolicyRequest{Resource: secret, Policy: &iampb.Policy{Version: 3, Bindings: b}}
		}, codes.OK, func(t *testing.T, p *iampb.Policy) {
			if p.Version != 3 {
				t.Errorf("version = %d, want 3", p.Version)
			}
		}},
		{"audit configs are not a secret's", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: secret, Policy: &iampb.Policy{AuditConfigs: []*iampb.AuditConfig{{Service: "allServices"}}}}
		}, codes.InvalidArgument, nil},
		{"audit config mask", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: secret, Policy: &iampb.Policy{}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"auditConfigs"}}}
		}, codes.InvalidArgument, nil},
		{"bad member", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: secret, Policy: &iampb.Policy{Bindings: accessor("sandbox")}}
		}, codes.InvalidArgument, nil},
		{"missing secret", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/coopguard-demo/secrets/nope", Policy: &iampb.Policy{Bindings: accessor(sa)}}
		}, codes.NotFound, nil},
		{"not a secret", func(*iampb.Policy) *iampb.SetIamPolicyRequest {
			return &iampb.SetIamPolicyRequest{Resource: "projects/coopguard-demo", Policy: &iampb.Policy{Bindings: accessor(sa)}}
		}, codes.InvalidArgument, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.Policy(secret)
			got, err := c.SetIamPolicy(ctx, tt.req(before))
			wantCode(t, err, tt.want)
			after := fake.Policy(secret)
			if err != nil {
				if string(after.Etag) != string(before.Etag) {
					t.Error("a refused SetIamPolicy changed the policy")
				}
				return
			}
			if string(got.Etag) == string(before.Etag) || string(after.Etag) != string(got.Etag) {
				t.Errorf("etag before %s, returned %s, stored %s: want a new one, stored", before.Etag, got.Etag, after.Etag)
			}
			read, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: byNumber(secret)})
			if err != nil || string(read.Etag) != string(got.Etag) {
				t.Errorf("GetIamPolicy by number = %v, %v; want what was set", read, err)
			}
			tt.check(t, got)
		})
	}

	t.Run("Policy by either name, nil when missing", func(t *testing.T) {
		if fake.Policy(secret) == nil || fake.Policy(byNumber(secret)) == nil {
			t.Error("Policy of an existing secret is nil")
		}
		if fake.Policy("projects/coopguard-demo/secrets/nope") != nil {
			t.Error("Policy of a missing secret is not nil")
		}
	})

	t.Run("deleted with the secret", func(t *testing.T) {
		fake.SeedSecret("coopguard-demo", "tmp")
		const tmp = "projects/coopguard-demo/secrets/tmp"
		if _, err := c.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: tmp, Policy: &iampb.Policy{Bindings: accessor(sa)}}); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: tmp}); err != nil {
			t.Fatal(err)
		}
		fake.SeedSecret("coopguard-demo", "tmp")
		if p := fake.Policy(tmp); len(p.GetBindings()) != 0 {
			t.Errorf("a re-created secret inherited the old policy: %v", p)
		}
	})
}

func TestSecretTestIamPermissions(t *testing.T) {
	fake, c, _ := start(t)
	ctx := context.Background()
	fake.SeedSecret("p", "k")
	const secret = "projects/p/secrets/k"
	tests := []struct {
		name   string
		tester func(ctx context.Context, secret string, perms []string) ([]string, error)
		perms  []string
		want   []string
		code   codes.Code
	}{
		{"no IAM: all granted", nil, []string{"secretmanager.versions.access", "secretmanager.secrets.get"}, []string{"secretmanager.versions.access", "secretmanager.secrets.get"}, codes.OK},
		{"tester decides", func(_ context.Context, s string, perms []string) ([]string, error) {
			if s != byNumber(secret) {
				t.Errorf("tester asked about %s, want %s", s, byNumber(secret))
			}
			return perms[:1], nil
		}, []string{"secretmanager.versions.access", "secretmanager.versions.destroy"}, []string{"secretmanager.versions.access"}, codes.OK},
		{"not a secret permission", nil, []string{"compute.instances.stop"}, nil, codes.InvalidArgument},
		{"wildcard", nil, []string{"secretmanager.*"}, nil, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetPermissionTester(tt.tester)
			got, err := c.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: secret, Permissions: tt.perms})
			wantCode(t, err, tt.code)
			if err == nil && !slices.Equal(got.GetPermissions(), tt.want) {
				t.Errorf("permissions = %v, want %v", got.GetPermissions(), tt.want)
			}
		})
	}
	_, err := c.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: "projects/p/secrets/nope", Permissions: []string{"secretmanager.secrets.get"}})
	wantCode(t, err, codes.NotFound)
}
