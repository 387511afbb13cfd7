package iamadmin_test

import (
	"context"
	"slices"
	"testing"

	"cloud.google.com/go/iam"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
)

// TestGetRole: a custom role is read with its permissions; predefined
// roles are not modelled (UNIMPLEMENTED, never a wrong list); a bad or
// unknown name is refused as IAM refuses it.
func TestGetRole(t *testing.T) {
	fake, c := start(t)
	fake.SetRoles(func(name string) ([]string, bool) {
		if name == "projects/coopguard-demo/roles/agentReader" {
			return []string{"secretmanager.versions.access", "logging.logEntries.create"}, true
		}
		return nil, false
	})
	ctx := context.Background()
	tests := []struct {
		name string
		want codes.Code
	}{
		{"projects/coopguard-demo/roles/agentReader", codes.OK},
		{"projects/coopguard-demo/roles/missing", codes.NotFound},
		{"organizations/123/roles/agentReader", codes.NotFound},
		{"roles/secretmanager.secretAccessor", codes.Unimplemented},
		{"projects/coopguard-demo/agentReader", codes.InvalidArgument},
		{"", codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.GetRole(ctx, &adminpb.GetRoleRequest{Name: tt.name})
			grpctest.WantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if r.GetName() != tt.name || !slices.Equal(r.GetIncludedPermissions(), []string{"secretmanager.versions.access", "logging.logEntries.create"}) || len(r.GetEtag()) == 0 {
				t.Errorf("role = %v", r)
			}
		})
	}
}

// mapStore is a PolicyStore for the fake alone.
type mapStore map[string]*iampb.Policy

func (m mapStore) Policy(r string) (*iampb.Policy, bool) {
	p, ok := m[r]
	if !ok {
		return nil, false
	}
	return proto.Clone(p).(*iampb.Policy), true
}

func (m mapStore) SetPolicy(r string, p *iampb.Policy) { m[r] = proto.Clone(p).(*iampb.Policy) }

// TestServiceAccountPolicy: a service account's policy is read and
// written by read-modify-write with its etag; a stale etag is ABORTED, an
// unknown account NOT_FOUND; the store sees what was set.
func TestServiceAccountPolicy(t *testing.T) {
	fake, c := start(t)
	store := mapStore{}
	fake.SetPolicies(store)
	email := fake.SeedServiceAccount("coopguard-demo", "sandbox-claude")
	ctx := context.Background()
	res := "projects/coopguard-demo/serviceAccounts/" + email
	p, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.InternalProto.GetBindings()) != 0 || len(p.InternalProto.GetEtag()) == 0 {
		t.Fatalf("new account's policy = %v, want empty with an etag", p.InternalProto)
	}
	stale := proto.Clone(p.InternalProto).(*iampb.Policy)
	p.Add("serviceAccount:coopguard-provisioner@coopguard-demo.iam.gserviceaccount.com", "roles/iam.serviceAccountUser")
	if _, err := c.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: res, Policy: p}); err != nil {
		t.Fatal(err)
	}
	if got := store[res].GetBindings(); len(got) != 1 || got[0].GetRole() != "roles/iam.serviceAccountUser" {
		t.Errorf("store holds %v", store[res])
	}
	stale.Bindings = append(stale.Bindings, &iampb.Binding{Role: "roles/owner", Members: []string{"user:eve@example.com"}})
	_, err = c.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: res, Policy: &iam.Policy{InternalProto: stale}})
	grpctest.WantCode(t, err, codes.Aborted)
	_, err = c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/coopguard-demo/serviceAccounts/nobody@coopguard-demo.iam.gserviceaccount.com"})
	grpctest.WantCode(t, err, codes.NotFound)
}
