package attack

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// roleScenarios drill the catalogue's custom-role techniques aimed at
// coopguard (Falco's "GCP IAM custom role created/modified", Sigma's
// gcp_iam_custom_role_modified): someone takes a permission out of the
// custom role coopguard's responder acts with, so a later containment
// cannot stop the VM (notified, sandbox-surroundings-changed); the benign
// counterpart changes a custom role of the team's own.
func roleScenarios() []Scenario {
	return []Scenario{
		{Name: "coopguard-role-weakened", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-role",
			Summary: "takes compute.instances.stop out of the custom role coopguard's responder stops the sandbox with (coopguardResponderSandbox), so a containment cannot stop the VM: IAM UpdateRole (allowed)",
			Act: func(ctx context.Context, w *World) error {
				name := "projects/" + w.Cfg.Cloud.GCP.Project + "/roles/coopguardResponderSandbox"
				return w.dropPermission(ctx, name, "compute.instances.stop")
			}},
		{Name: "operator-team-role", Kind: Benign, Actor: actorOperator, Counterpart: "coopguard-role-weakened",
			Summary: "creates a custom role of the team's own and takes a permission out of it: IAM CreateRole, UpdateRole",
			Act: func(ctx context.Context, w *World) error {
				p := "projects/" + w.Cfg.Cloud.GCP.Project
				_, err := w.Operator.IAMAdmin.CreateRole(ctx, &adminpb.CreateRoleRequest{Parent: p, RoleId: "teamBuilder", Role: &adminpb.Role{
					Title: "team builder", IncludedPermissions: []string{"compute.instances.get", "compute.instances.stop"}}})
				if err != nil {
					return allowed(err, "CreateRole teamBuilder")
				}
				return w.dropPermission(ctx, p+"/roles/teamBuilder", "compute.instances.stop")
			}},
	}
}

// dropPermission takes perm out of the custom role name, as the operator,
// through the official IAM admin client.
func (w *World) dropPermission(ctx context.Context, name, perm string) error {
	r, err := w.Operator.IAMAdmin.GetRole(ctx, &adminpb.GetRoleRequest{Name: name})
	if err != nil {
		return allowed(err, "GetRole "+name)
	}
	if !slices.Contains(r.GetIncludedPermissions(), perm) {
		return fmt.Errorf("role %s holds no %s: the drill proves nothing", name, perm)
	}
	r.IncludedPermissions = slices.DeleteFunc(slices.Clone(r.GetIncludedPermissions()), func(p string) bool { return p == perm })
	_, err = w.Operator.IAMAdmin.UpdateRole(ctx, &adminpb.UpdateRoleRequest{Name: name, Role: r,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"included_permissions"}}})
	return allowed(err, "UpdateRole "+name)
}
