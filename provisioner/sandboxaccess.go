package provisioner

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// sandboxAccess names the sandbox in the condition under which each of
// coopguard's jobs that changes a sandbox's VM holds its sandbox role
// (config.SandboxRoles): the responder may then contain this sandbox and
// the restorer restore it, and neither may touch a VM no condition names.
// Deploy names the configured sandbox; this adds a sandbox built under
// another name (and repairs a binding that lost it), changing only those
// bindings' conditions.
type sandboxAccess struct{ s *Sandbox }

func (r *sandboxAccess) Kind() string { return "sandbox-access" }
func (r *sandboxAccess) Name() string { return r.s.Name }

// Deps: the project policy's other writers go first, so the
// read-modify-writes do not race.
func (r *sandboxAccess) Deps() []string {
	deps := []string{"auditConfig/" + AuditedService}
	if r.s.OwnAccount {
		deps = append(deps, "project-roles/"+r.s.ServiceAccount)
	}
	return deps
}

func (r *sandboxAccess) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	pol, err := (&projectRoles{r.s}).read(ctx, c)
	if err != nil {
		return Change{}, err
	}
	missing := r.missing(pol)
	detail := "the sandbox's VM and disk named in the condition " + config.SandboxConditionTitle + " of " + r.jobs()
	if len(missing) == 0 {
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "name " + detail, Apply: func(ctx context.Context) error {
		for range 3 {
			pol, err := (&projectRoles{r.s}).read(ctx, c)
			if err != nil {
				return err
			}
			if len(r.missing(pol)) == 0 {
				return nil
			}
			r.add(pol)
			pol.Version = 3 // conditional bindings
			_, err = c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + r.s.Project, Policy: pol,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bindings", "etag"}}})
			if !retry.IsPrecondition(err) {
				if err != nil {
					return fmt.Errorf("name sandbox %s in the %s condition on project %s: %w (deploy/deploy.sh creates the roles; run it first)", r.s.Name, config.SandboxConditionTitle, r.s.Project, err)
				}
				return nil
			}
		}
		return fmt.Errorf("name sandbox %s in the %s condition on project %s: the policy kept changing", r.s.Name, config.SandboxConditionTitle, r.s.Project)
	}}, nil
}

// sandboxAccounts are the jobs' accounts with a sandbox role, sorted.
func sandboxAccounts() []string {
	out := make([]string, 0, len(config.SandboxRoles))
	for a := range config.SandboxRoles {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func (r *sandboxAccess) jobs() string { return fmt.Sprint(sandboxAccounts()) }

func (r *sandboxAccess) missing(pol *iampb.Policy) []string {
	return SandboxAccessMissing(pol, r.s.Project, r.s.Zone, r.s.Name)
}

// sandboxBinding is account's binding of its sandbox role under the
// coopguard-sandboxes condition in pol, or nil.
func sandboxBinding(pol *iampb.Policy, project, account string) *iampb.Binding {
	role := "projects/" + project + "/roles/" + config.SandboxRoles[account]
	member := "serviceAccount:" + config.AccountEmail(account, project)
	for _, b := range pol.GetBindings() {
		if b.GetRole() == role && b.GetCondition().GetTitle() == config.SandboxConditionTitle && slices.Contains(b.GetMembers(), member) {
			return b
		}
	}
	return nil
}

// SandboxAccessMissing lists the accounts of config.SandboxRoles (sorted)
// whose sandbox role, in the project policy pol, is not bound under a
// coopguard-sandboxes condition naming sandbox name of project's zone:
// those jobs cannot act on that sandbox's VM.
func SandboxAccessMissing(pol *iampb.Policy, project, zone, name string) []string {
	var out []string
	for _, a := range sandboxAccounts() {
		b := sandboxBinding(pol, project, a)
		if b == nil || !config.SandboxNamed(b.GetCondition().GetExpression(), project, zone, name) {
			out = append(out, a)
		}
	}
	return out
}

// add names the sandbox in every account's condition, creating the
// binding where it is missing; a binding shared with other members is
// left to them and a new one made for the account.
func (r *sandboxAccess) add(pol *iampb.Policy) {
	for _, a := range r.missing(pol) {
		member := "serviceAccount:" + config.AccountEmail(a, r.s.Project)
		b := sandboxBinding(pol, r.s.Project, a)
		expression := ""
		if b != nil {
			expression = b.GetCondition().GetExpression()
			if len(b.Members) > 1 {
				b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == member })
				b = nil
			}
		}
		if b == nil {
			b = &iampb.Binding{Role: "projects/" + r.s.Project + "/roles/" + config.SandboxRoles[a], Members: []string{member}}
			pol.Bindings = append(pol.Bindings, b)
		}
		b.Condition = &expr.Expr{Title: config.SandboxConditionTitle, Description: config.SandboxConditionDescription,
			Expression: config.WidenSandboxCondition(expression, r.s.Project, r.s.Zone, r.s.Name)}
	}
}
