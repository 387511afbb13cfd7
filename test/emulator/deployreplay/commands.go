package deployreplay

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"cloud.google.com/go/iam"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/deploy"
)

// replayer applies one listing's commands to its target.
type replayer struct{ t Target }

// exists answers a block's describe: whether the resource it names exists.
func (r *replayer) exists(ctx context.Context, c deploy.Command) (bool, error) {
	var err error
	switch {
	case c.Is("gcloud", "iam", "roles", "describe") && len(c.Args) > 4:
		_, err = r.t.Clients.IAMAdmin.GetRole(ctx, &adminpb.GetRoleRequest{Name: r.project(c) + "/roles/" + c.Args[4]})
	case c.Is("gcloud", "iam", "service-accounts", "describe") && len(c.Args) > 4:
		_, err = r.t.Clients.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: r.account(c, c.Args[4])})
	default:
		return false, fmt.Errorf("no describe the emulator answers: %s", c.Line)
	}
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.NotFound:
		return false, nil
	}
	return false, fmt.Errorf("%s: %w", c.Line, err)
}

// apply replays one command.
func (r *replayer) apply(ctx context.Context, c deploy.Command) error {
	if notModelled(c) != "" {
		return nil
	}
	var err error
	switch {
	case c.Is("gcloud", "iam", "roles", "create") && len(c.Args) > 4:
		err = r.createRole(ctx, c, c.Args[4])
	case c.Is("gcloud", "iam", "roles", "update") && len(c.Args) > 4:
		err = r.updateRole(ctx, c, c.Args[4])
	case c.Is("gcloud", "iam", "service-accounts", "create") && len(c.Args) > 4:
		display, _ := c.Flag("display-name")
		_, err = r.t.Clients.IAMAdmin.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{
			Name: r.project(c), AccountId: c.Args[4], ServiceAccount: &adminpb.ServiceAccount{DisplayName: display}})
	case c.Is("gcloud", "projects", "add-iam-policy-binding") && len(c.Args) > 3:
		err = r.projectPolicy(ctx, c, c.Args[3], addMember)
	case c.Is("gcloud", "projects", "remove-iam-policy-binding") && len(c.Args) > 3:
		err = r.projectPolicy(ctx, c, c.Args[3], removeMember)
	case c.Is("gcloud", "iam", "service-accounts", "add-iam-policy-binding") && len(c.Args) > 4:
		err = r.accountPolicy(ctx, c, r.account(c, c.Args[4]))
	case c.Is("gcloud", "secrets", "add-iam-policy-binding") && len(c.Args) > 3:
		err = r.secretPolicy(ctx, c, r.project(c)+"/secrets/"+c.Args[3])
	case c.Is("gcloud", "resource-manager", "folders", "add-iam-policy-binding") && len(c.Args) > 4:
		err = r.folderPolicy(ctx, c, "folders/"+c.Args[4])
	case c.Is("gcloud", "billing", "accounts", "add-iam-policy-binding") && len(c.Args) > 4:
		err = r.billingPolicy(ctx, c, "billingAccounts/"+c.Args[4])
	case c.Is("gcloud", "pubsub", "topics", "add-iam-policy-binding") && len(c.Args) > 4:
		var b binding
		if b, err = parseBinding(c); err == nil {
			err = r.t.GrantTopic(c.Args[4], b.member, b.role)
		}
	default:
		return fmt.Errorf("deployreplay: deploy.sh runs %s, which the emulated deploy neither replays nor lists as not modelled: model it in test/emulator/deployreplay or add it to skipped with the reason", c.Line)
	}
	if err != nil {
		return fmt.Errorf("deployreplay: %s: %w", c.Line, err)
	}
	return nil
}

// project is the command's --project as a resource name (the target's
// project when absent), checked against the target.
func (r *replayer) project(c deploy.Command) string {
	p, ok := c.Flag("project")
	if !ok {
		p = r.t.Project
	}
	return "projects/" + p
}

// account is a service account's resource name.
func (r *replayer) account(c deploy.Command, email string) string {
	return r.project(c) + "/serviceAccounts/" + email
}

// createRole creates a custom role from deploy/roles/<file> as `gcloud iam
// roles create --file` does.
func (r *replayer) createRole(ctx context.Context, c deploy.Command, id string) error {
	role, err := roleFile(c)
	if err != nil {
		return err
	}
	_, err = r.t.Clients.IAMAdmin.CreateRole(ctx, &adminpb.CreateRoleRequest{Parent: r.project(c), RoleId: id, Role: role})
	return err
}

// updateRole replaces a custom role with deploy/roles/<file>, as `gcloud
// iam roles update --file` does.
func (r *replayer) updateRole(ctx context.Context, c deploy.Command, id string) error {
	role, err := roleFile(c)
	if err != nil {
		return err
	}
	_, err = r.t.Clients.IAMAdmin.UpdateRole(ctx, &adminpb.UpdateRoleRequest{Name: r.project(c) + "/roles/" + id, Role: role})
	return err
}

// roleFile reads the role a command's --file defines.
func roleFile(c deploy.Command) (*adminpb.Role, error) {
	file, ok := c.Flag("file")
	if !ok {
		return nil, fmt.Errorf("no --file")
	}
	// The listing names the file in the dry run's temporary copy of
	// deploy/, gone by now: read it from the embedded one.
	_, rel, ok := strings.Cut(file, "/deploy/")
	if !ok || path.Dir(rel) != "roles" {
		return nil, fmt.Errorf("--file=%s is not one of deploy/roles/", file)
	}
	b, err := deploy.EmbeddedFile(rel)
	if err != nil {
		return nil, err
	}
	var role deploy.Role
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&role); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	stage, ok := adminpb.Role_RoleLaunchStage_value[role.Stage]
	if !ok && role.Stage != "" {
		return nil, fmt.Errorf("%s: unknown stage %q", rel, role.Stage)
	}
	return &adminpb.Role{Title: role.Title, Description: role.Description, Stage: adminpb.Role_RoleLaunchStage(stage),
		IncludedPermissions: role.IncludedPermissions}, nil
}

// binding is the --member, --role and --condition of an
// add-iam-policy-binding.
type binding struct {
	member, role string
	condition    *expr.Expr
}

// parseBinding reads --member, --role and --condition as gcloud does:
// --condition is None (unconditional) or key=value pairs, separated by
// commas, of expression, title and description
// (https://cloud.google.com/sdk/gcloud/reference/projects/add-iam-policy-binding).
func parseBinding(c deploy.Command) (binding, error) {
	var b binding
	var ok bool
	if b.member, ok = c.Flag("member"); !ok {
		return b, fmt.Errorf("no --member")
	}
	if b.role, ok = c.Flag("role"); !ok {
		return b, fmt.Errorf("no --role")
	}
	cond, ok := c.Flag("condition")
	if !ok || cond == "None" {
		return b, nil
	}
	b.condition = &expr.Expr{}
	for _, kv := range strings.Split(cond, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "expression":
			b.condition.Expression = v
		case "title":
			b.condition.Title = v
		case "description":
			b.condition.Description = v
		default:
			return b, fmt.Errorf("--condition: %q is not expression=, title= or description= (a comma inside a value splits it)", kv)
		}
	}
	if b.condition.Expression == "" || b.condition.Title == "" {
		return b, fmt.Errorf("--condition needs an expression and a title")
	}
	return b, nil
}

// edit changes a policy for one binding.
type edit func(p *iampb.Policy, b binding)

// addMember adds b's member to the binding of b's role under b's condition
// (a new binding when there is none), as add-iam-policy-binding does.
func addMember(p *iampb.Policy, b binding) {
	for _, o := range p.Bindings {
		if o.GetRole() == b.role && proto.Equal(o.GetCondition(), b.condition) {
			if !slices.Contains(o.Members, b.member) {
				o.Members = append(o.Members, b.member)
			}
			return
		}
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: b.role, Members: []string{b.member}, Condition: b.condition})
}

// removeMember takes b's member out of the binding of b's role under b's
// condition, dropping a binding left without members.
func removeMember(p *iampb.Policy, b binding) {
	p.Bindings = slices.DeleteFunc(p.Bindings, func(o *iampb.Binding) bool {
		if o.GetRole() == b.role && proto.Equal(o.GetCondition(), b.condition) {
			o.Members = slices.DeleteFunc(o.Members, func(m string) bool { return m == b.member })
		}
		return len(o.Members) == 0
	})
}

// readModifyWrite applies change to a policy read at version 3 (which
// conditional bindings need) and writes it back with its etag.
func readModifyWrite(ctx context.Context, c deploy.Command, change edit,
	get func(context.Context, *iampb.GetIamPolicyRequest) (*iampb.Policy, error),
	set func(context.Context, *iampb.SetIamPolicyRequest) (*iampb.Policy, error), resource string) error {
	b, err := parseBinding(c)
	if err != nil {
		return err
	}
	p, err := get(ctx, &iampb.GetIamPolicyRequest{Resource: resource, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		return err
	}
	change(p, b)
	if b.condition != nil {
		p.Version = 3
	}
	_, err = set(ctx, &iampb.SetIamPolicyRequest{Resource: resource, Policy: p})
	return err
}

func (r *replayer) projectPolicy(ctx context.Context, c deploy.Command, project string, change edit) error {
	if project != r.t.Project {
		return fmt.Errorf("project %s is not the deployed project %s", project, r.t.Project)
	}
	p := r.t.Clients.Projects
	return readModifyWrite(ctx, c, change, func(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
		return p.GetIamPolicy(ctx, req)
	}, func(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
		return p.SetIamPolicy(ctx, req)
	}, "projects/"+project)
}

func (r *replayer) accountPolicy(ctx context.Context, c deploy.Command, name string) error {
	a := r.t.Clients.IAMAdmin
	return readModifyWrite(ctx, c, addMember, func(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
		p, err := a.GetIamPolicy(ctx, req)
		if err != nil || p.InternalProto == nil {
			return &iampb.Policy{}, err
		}
		return p.InternalProto, nil
	}, func(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
		p, err := a.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: req.GetResource(), Policy: &iam.Policy{InternalProto: req.GetPolicy()}})
		if err != nil {
			return nil, err
		}
		return p.InternalProto, nil
	}, name)
}

func (r *replayer) secretPolicy(ctx context.Context, c deploy.Command, name string) error {
	s := r.t.Clients.Secrets
	return readModifyWrite(ctx, c, addMember, func(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
		return s.GetIamPolicy(ctx, req)
	}, func(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
		return s.SetIamPolicy(ctx, req)
	}, name)
}

func (r *replayer) folderPolicy(ctx context.Context, c deploy.Command, name string) error {
	f := r.t.Clients.Folders
	return readModifyWrite(ctx, c, addMember, func(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
		return f.GetIamPolicy(ctx, req)
	}, func(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
		return f.SetIamPolicy(ctx, req)
	}, name)
}

func (r *replayer) billingPolicy(ctx context.Context, c deploy.Command, name string) error {
	b := r.t.Clients.Billing
	return readModifyWrite(ctx, c, addMember, func(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
		return b.GetIamPolicy(ctx, req)
	}, func(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
		return b.SetIamPolicy(ctx, req)
	}, name)
}
