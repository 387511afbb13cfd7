package posture

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// forbiddenRolePrefixes and forbiddenRoles are the security guide's "never
// grant these" list: roles/compute.*, roles/iam.*, roles/storage.*,
// roles/billing.*, roles/editor, roles/owner; and any Firestore role
// (roles/datastore.*): coopguard's incident record must stay out of the
// sandbox's reach.
var (
	forbiddenRolePrefixes = []string{"roles/compute.", "roles/iam.", "roles/storage.", "roles/billing.", "roles/datastore."}
	forbiddenRoles        = []string{"roles/editor", "roles/owner"}
)

// Forbidden reports whether role may never be granted to the sandbox's
// service account.
func Forbidden(role string) bool {
	return slices.Contains(forbiddenRoles, role) ||
		slices.ContainsFunc(forbiddenRolePrefixes, func(p string) bool { return strings.HasPrefix(role, p) })
}

// serviceAccountRoles: the sandbox's service account holds none of the
// forbidden roles on the project (read from the project's IAM policy).
// Grants through groups, folders or the organisation are not visible in
// the project policy and are not judged here.
type serviceAccountRoles struct{}

func (serviceAccountRoles) Name() string { return "service-account-roles" }

func (serviceAccountRoles) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	accounts := []string{in.Config.Cloud.GCP.ServiceAccount}
	// The VM may run as another account than configured (the
	// dedicated-service-account check says so); judge that one too, since
	// it is the one agents actually hold.
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	for _, sa := range inst.GetServiceAccounts() {
		if !slices.Contains(accounts, sa.GetEmail()) {
			accounts = append(accounts, sa.GetEmail())
		}
	}
	pol, err := in.projectPolicy(ctx, c)
	if err != nil {
		return readError(err, "resourcemanager.projects.getIamPolicy")
	}
	held := map[string][]string{}
	var bad, fixes []string
	for _, b := range pol.GetBindings() {
		for _, sa := range accounts {
			member := "serviceAccount:" + sa
			if !slices.Contains(b.GetMembers(), member) {
				continue
			}
			role := b.GetRole()
			if b.GetCondition() != nil {
				role += " (conditional: " + b.GetCondition().GetTitle() + ")"
			}
			held[sa] = append(held[sa], role)
			if Forbidden(b.GetRole()) {
				bad = append(bad, sa+" has "+role)
				fix := fmt.Sprintf("gcloud projects remove-iam-policy-binding %s --member %s --role %s", in.Project(), member, b.GetRole())
				if b.GetCondition() != nil {
					fix += " --condition=all"
				}
				fixes = append(fixes, fix)
			}
		}
	}
	if len(bad) > 0 {
		return fail("forbidden roles on project "+in.Project()+": "+strings.Join(bad, ", "), strings.Join(fixes, " && "))
	}
	var grants []string
	for _, sa := range accounts {
		grants = append(grants, sa+": "+joinOr(held[sa], "no roles"))
	}
	return pass("project %s grants %s; none forbidden (compute.*, iam.*, storage.*, billing.*, datastore.*, editor, owner)",
		in.Project(), strings.Join(grants, "; "))
}
