package posture

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// forbiddenServices are the services in which the sandbox's account may
// hold no project-level role: a role there reaches every secret, topic,
// database, VM, account or bucket of the project, including coopguard's
// own. The sandbox reads its secrets through bindings on those secrets
// (Provision makes them); billing is the security guide's.
var forbiddenServices = []string{"secretmanager", "pubsub", "datastore", "compute", "iam", "storage", "billing"}

// basicRoles hold permissions in every service
// (https://cloud.google.com/iam/docs/roles-overview#basic).
var basicRoles = []string{"roles/owner", "roles/editor", "roles/viewer"}

// forbiddenList is how evidence names the rule.
const forbiddenList = "Secret Manager, Pub/Sub, Firestore (datastore), Compute, IAM, Storage, Billing or a basic role"

// serviceAccountRoles: the sandbox's service account holds no project-level
// role in a forbidden service (read from the project's IAM policy). A
// predefined role is judged by its service (roles/<service>.<name>); a
// custom role by its permissions, read from IAM. Grants through groups,
// folders or the organisation are not visible in the project policy and
// are not judged here.
type serviceAccountRoles struct{}

func (serviceAccountRoles) Name() string { return "service-account-roles" }

func (serviceAccountRoles) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	accounts := []string{in.Sandbox.ServiceAccount}
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
	judged := map[string][]string{} // role → what it reaches, read once
	for _, b := range pol.GetBindings() {
		for _, sa := range accounts {
			member := "serviceAccount:" + sa
			if !slices.Contains(b.GetMembers(), member) {
				continue
			}
			role := b.GetRole()
			shown := role
			if b.GetCondition() != nil {
				shown += " (conditional: " + b.GetCondition().GetTitle() + ")"
			}
			held[sa] = append(held[sa], shown)
			reach, ok := judged[role]
			if !ok {
				if reach, err = roleReach(ctx, c, role); err != nil {
					return readError(err, "iam.roles.get")
				}
				judged[role] = reach
			}
			if len(reach) == 0 {
				continue
			}
			bad = append(bad, fmt.Sprintf("%s has %s (%s)", sa, shown, strings.Join(reach, ", ")))
			fix := fmt.Sprintf("gcloud projects remove-iam-policy-binding %s --member %s --role %s", in.Project(), member, role)
			if b.GetCondition() != nil {
				fix += " --condition=all"
			}
			fixes = append(fixes, fix)
		}
	}
	if len(bad) > 0 {
		// Provision grants each secret to the sandbox on the secret
		// itself, so removing a project-wide accessor loses nothing.
		fixes = append(fixes, "coopguard provision --config FILE (grants the sandbox its own secrets, per secret)")
		return fail("project-level roles in "+forbiddenList+" on project "+in.Project()+": "+strings.Join(bad, "; "), strings.Join(fixes, " && "))
	}
	var grants []string
	for _, sa := range accounts {
		grants = append(grants, sa+": "+joinOr(held[sa], "no roles"))
	}
	return pass("project %s grants %s; none in %s", in.Project(), strings.Join(grants, "; "), forbiddenList)
}

// roleReach returns what a role reaches among the forbidden services:
// "basic role" for owner, editor and viewer; the service of a predefined
// role; the forbidden permissions of a custom role (read from IAM). Empty
// means the role is allowed.
func roleReach(ctx context.Context, c *gcp.Clients, role string) ([]string, error) {
	if slices.Contains(basicRoles, role) {
		return []string{"basic role: every service"}, nil
	}
	if name, ok := strings.CutPrefix(role, "roles/"); ok {
		svc, _, _ := strings.Cut(name, ".")
		if slices.Contains(forbiddenServices, svc) {
			return []string{svc}, nil
		}
		return nil, nil
	}
	// A custom role (projects/P/roles/R or organizations/O/roles/R): its
	// name says nothing, its permissions do.
	r, err := c.IAMAdmin.GetRole(ctx, &adminpb.GetRoleRequest{Name: role})
	if err != nil {
		return nil, fmt.Errorf("read custom role %s: %w", role, err)
	}
	var out []string
	for _, p := range r.GetIncludedPermissions() {
		svc, _, _ := strings.Cut(p, ".")
		if slices.Contains(forbiddenServices, svc) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return out, nil
}
