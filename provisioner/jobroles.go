package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/deploy/roles"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// sandboxProjectKinds are the role files of a job that hold in a sandbox's
// own project: its project role, and its roles on the sandbox's VM and on
// its secrets. (Its identity role is bound on the sandbox's account, its
// key-source role on coopguard's key source: neither is in that project.)
var sandboxProjectKinds = []config.RoleKind{config.RoleProject, config.RoleSandbox, config.RoleSecrets}

// sandboxProjectRoles are the role files created in a sandbox's own
// project: those bound there, and the identity role, which is bound on
// the sandbox's own account (made in that project) and so must be a
// role of that project too.
var sandboxProjectRoles = append(slices.Clone(sandboxProjectKinds), config.RoleIdentity)

// jobRoleResources are coopguard's custom roles created in the sandbox's
// own project (custom roles are project-scoped: the ones deploy created
// in coopguard's project do not exist there) and the bindings of the job
// accounts to them. Each condition names this sandbox only, so no
// condition grows with the fleet.
func (s *Sandbox) jobRoleResources() []Resource {
	var rs []Resource
	for _, j := range config.Jobs {
		for _, k := range sandboxProjectRoles {
			if j.Has(k) {
				rs = append(rs, &customRole{s, j, k})
			}
		}
	}
	return append(rs, &jobRoles{s})
}

// customRole is one of coopguard's custom roles in the sandbox's project,
// defined by the same deploy/roles file deploy creates it from.
type customRole struct {
	s    *Sandbox
	job  config.Job
	kind config.RoleKind
}

func (r *customRole) Kind() string { return "custom-role" }
func (r *customRole) Name() string {
	return "projects/" + r.s.Project + "/roles/" + r.job.RoleID(r.kind)
}
func (r *customRole) Deps() []string { return nil }

func (r *customRole) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	def, err := roles.Embedded(r.job.RoleFile(r.kind))
	if err != nil {
		return Change{}, err
	}
	want := &adminpb.Role{Title: def.Title, Description: def.Description, IncludedPermissions: def.IncludedPermissions,
		Stage: adminpb.Role_RoleLaunchStage(adminpb.Role_RoleLaunchStage_value[def.Stage])}
	detail := fmt.Sprintf("%d permissions of deploy/roles/%s.yaml", len(def.IncludedPermissions), r.job.RoleFile(r.kind))
	got, err := c.IAMAdmin.GetRole(ctx, &adminpb.GetRoleRequest{Name: r.Name()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: detail, Apply: func(ctx context.Context) error {
			_, err := c.IAMAdmin.CreateRole(ctx, &adminpb.CreateRoleRequest{Parent: "projects/" + r.s.Project, RoleId: r.job.RoleID(r.kind), Role: want})
			if retry.IsAlreadyExists(err) {
				return nil // a concurrent converge made it
			}
			if err != nil {
				return fmt.Errorf("create role %s: %w", r.Name(), err)
			}
			return nil
		}}, nil
	case err != nil:
		return Change{}, err
	}
	have, need := slices.Clone(got.GetIncludedPermissions()), slices.Clone(def.IncludedPermissions)
	slices.Sort(have)
	slices.Sort(need)
	if slices.Equal(have, need) && !got.GetDeleted() {
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "restore " + detail, Apply: func(ctx context.Context) error {
		_, err := c.IAMAdmin.UpdateRole(ctx, &adminpb.UpdateRoleRequest{Name: r.Name(), Role: want,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "description", "included_permissions", "stage"}}})
		if err != nil {
			return fmt.Errorf("update role %s: %w", r.Name(), err)
		}
		return nil
	}}, nil
}

// jobRoles binds each of coopguard's job accounts (in coopguard's project)
// to its roles in the sandbox's project: the project role unconditionally,
// the sandbox role under the coopguard-sandboxes condition naming this
// sandbox's VM and disk, the secrets role under the job's managed-secrets
// condition naming this sandbox's secrets. Read-modify-write with the
// policy's etag, at version 3.
type jobRoles struct{ s *Sandbox }

func (r *jobRoles) Kind() string { return "job-roles" }
func (r *jobRoles) Name() string { return r.s.Project }

// Deps: the roles exist before they are bound; the project policy's other
// writer goes first so the read-modify-writes do not race.
func (r *jobRoles) Deps() []string {
	deps := []string{"auditConfig/" + AuditedService}
	for _, j := range config.Jobs {
		for _, k := range sandboxProjectKinds {
			if j.Has(k) {
				deps = append(deps, ID(&customRole{r.s, j, k}))
			}
		}
	}
	if r.s.OwnAccount {
		deps = append(deps, "project-roles/"+r.s.ServiceAccount)
	}
	return deps
}

// wanted are the bindings the jobs need; number is the project's number,
// which Secret Manager names the secrets by in conditions.
func (r *jobRoles) wanted(number string) []*iampb.Binding {
	var out []*iampb.Binding
	for _, j := range config.Jobs {
		member := "serviceAccount:" + config.AccountEmail(j.Account, r.s.home())
		for _, k := range sandboxProjectKinds {
			if !j.Has(k) {
				continue
			}
			b := &iampb.Binding{Role: "projects/" + r.s.Project + "/roles/" + j.RoleID(k), Members: []string{member}}
			switch k {
			case config.RoleSandbox:
				b.Condition = &expr.Expr{Title: config.SandboxConditionTitle, Description: config.SandboxConditionDescription,
					Expression: config.SandboxCondition(r.s.Project, r.s.Zone, []string{r.s.Name})}
			case config.RoleSecrets:
				b.Condition = &expr.Expr{Title: config.SecretsConditionTitle(j.Role), Description: config.SecretsConditionDescription,
					Expression: config.SecretsCondition(number, r.s.Secrets)}
			}
			out = append(out, b)
		}
	}
	return out
}

// missing are the wanted bindings pol lacks (a binding of the same role
// and condition holding the member).
func missingBindings(pol *iampb.Policy, want []*iampb.Binding) []*iampb.Binding {
	var out []*iampb.Binding
	for _, w := range want {
		if !slices.ContainsFunc(pol.GetBindings(), func(b *iampb.Binding) bool {
			return b.GetRole() == w.GetRole() && proto.Equal(b.GetCondition(), w.GetCondition()) && slices.Contains(b.GetMembers(), w.GetMembers()[0])
		}) {
			out = append(out, w)
		}
	}
	return out
}

func (r *jobRoles) number(ctx context.Context, c *gcp.Clients) (string, error) {
	p, err := c.Projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + r.s.Project})
	if err != nil {
		return "", fmt.Errorf("read project %s: %w", r.s.Project, err)
	}
	return strings.TrimPrefix(p.GetName(), "projects/"), nil
}

func (r *jobRoles) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	num, err := r.number(ctx, c)
	if err != nil {
		return Change{}, err
	}
	pol, err := (&projectRoles{r.s}).read(ctx, c)
	if err != nil {
		return Change{}, err
	}
	want := r.wanted(num)
	detail := fmt.Sprintf("%d bindings of coopguard's job accounts, conditions naming sandbox %s only", len(want), r.s.Name)
	if len(missingBindings(pol, want)) == 0 {
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "bind " + detail, Apply: func(ctx context.Context) error {
		for range 3 {
			pol, err := (&projectRoles{r.s}).read(ctx, c)
			if err != nil {
				return err
			}
			add := missingBindings(pol, want)
			if len(add) == 0 {
				return nil
			}
			pol.Bindings = append(pol.Bindings, add...)
			pol.Version = 3 // conditional bindings
			_, err = c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + r.s.Project, Policy: pol,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bindings", "etag"}}})
			if !retry.IsPrecondition(err) {
				if err != nil {
					return fmt.Errorf("bind coopguard's job accounts in project %s: %w", r.s.Project, err)
				}
				return nil
			}
		}
		return fmt.Errorf("bind coopguard's job accounts in project %s: the policy kept changing", r.s.Project)
	}}, nil
}
