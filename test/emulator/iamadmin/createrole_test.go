package iamadmin_test

import (
	"context"
	"slices"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCreateAndUpdateRole: a custom role is created once with its
// permissions (a second create is ALREADY_EXISTS, a bad parent or id
// INVALID_ARGUMENT), read back by GetRole, and replaced by UpdateRole; an
// unknown role cannot be updated.
func TestCreateAndUpdateRole(t *testing.T) {
	fake, c := start(t)
	roles := map[string][]string{}
	fake.SetRoles(func(name string) ([]string, bool) { p, ok := roles[name]; return p, ok })
	fake.SetRoleWriter(func(name string, perms []string) { roles[name] = perms })
	ctx := context.Background()
	role := func(perms ...string) *adminpb.Role { return &adminpb.Role{Title: "t", IncludedPermissions: perms} }
	for _, tt := range []struct {
		name, parent, id string
		role             *adminpb.Role
		want             codes.Code
	}{
		{"ok", "projects/coopguard-demo", "coopguardReader", role("compute.instances.get"), codes.OK},
		{"again", "projects/coopguard-demo", "coopguardReader", role("compute.instances.list"), codes.AlreadyExists},
		{"other project", "projects/elsewhere", "coopguardReader", role("compute.instances.get"), codes.OK},
		{"short id", "projects/coopguard-demo", "ab", role("compute.instances.get"), codes.InvalidArgument},
		{"hyphen in id", "projects/coopguard-demo", "coopguard-reader", role("compute.instances.get"), codes.InvalidArgument},
		{"bad parent", "folders/1", "coopguardReader", role("compute.instances.get"), codes.InvalidArgument},
		{"no permissions", "projects/coopguard-demo", "emptyRole", role(), codes.InvalidArgument},
	} {
		_, err := c.CreateRole(ctx, &adminpb.CreateRoleRequest{Parent: tt.parent, RoleId: tt.id, Role: tt.role})
		if got := status.Code(err); got != tt.want {
			t.Errorf("%s: CreateRole = %v, want %v", tt.name, err, tt.want)
		}
	}
	name := "projects/coopguard-demo/roles/coopguardReader"
	got, err := c.GetRole(ctx, &adminpb.GetRoleRequest{Name: name})
	if err != nil || !slices.Equal(got.GetIncludedPermissions(), []string{"compute.instances.get"}) {
		t.Fatalf("GetRole after create = %v, %v; want the created permissions", got.GetIncludedPermissions(), err)
	}
	if _, err := c.UpdateRole(ctx, &adminpb.UpdateRoleRequest{Name: name, Role: role("compute.instances.get", "compute.disks.get")}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetRole(ctx, &adminpb.GetRoleRequest{Name: name})
	if err != nil || !slices.Equal(got.GetIncludedPermissions(), []string{"compute.instances.get", "compute.disks.get"}) {
		t.Errorf("GetRole after update = %v, %v", got.GetIncludedPermissions(), err)
	}
	if _, err := c.UpdateRole(ctx, &adminpb.UpdateRoleRequest{Name: "projects/coopguard-demo/roles/missing", Role: role("x.y.z")}); status.Code(err) != codes.NotFound {
		t.Errorf("UpdateRole of an unknown role = %v, want NOT_FOUND", err)
	}
}
