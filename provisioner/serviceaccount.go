package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/iam"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// accountIDSyntax is GCP's rule for a service account id: 6 to 30
// lowercase letters, digits and hyphens, starting with a letter and not
// ending with a hyphen
// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create).
var accountIDSyntax = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

// accountPrefix starts every account id coopguard derives, so the
// sandbox's accounts are recognisable and never collide with coopguard's
// own (coopguard-responder, …).
const accountPrefix = "sandbox-"

// ServiceAccountID derives the id of a sandbox's own service account from
// the sandbox's name: "sandbox-<name>", or, when that is over 30
// characters, the name cut short and a hash of the whole name, so two
// sandboxes never share an account. The same name always gives the same
// id.
func ServiceAccountID(sandbox string) (string, error) {
	if !config.ValidName(sandbox) {
		return "", fmt.Errorf("%w: sandbox name %q cannot name a service account: use 1-63 lowercase letters, digits and hyphens, starting with a letter (RFC 1035)", config.ErrInvalid, sandbox)
	}
	id := accountPrefix + sandbox
	if len(id) > 30 {
		h := sha256.Sum256([]byte(sandbox))
		keep := strings.TrimRight(sandbox[:30-len(accountPrefix)-7], "-")
		id = accountPrefix + keep + "-" + hex.EncodeToString(h[:])[:6]
	}
	if !accountIDSyntax.MatchString(id) {
		return "", fmt.Errorf("%w: sandbox name %q gives service account id %q, which GCP refuses (6-30 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen): choose another name, or set cloud.gcp.service_account for the configured sandbox", config.ErrInvalid, sandbox, id)
	}
	return id, nil
}

// accountResource is the IAM resource name of the sandbox's account.
func (s *Sandbox) accountResource() string {
	return "projects/" + s.Project + "/serviceAccounts/" + s.ServiceAccount
}

// serviceAccount is the sandbox's own service account, created with no
// roles: the resources below grant it exactly what a sandbox needs.
type serviceAccount struct{ s *Sandbox }

func (r *serviceAccount) Kind() string   { return "service-account" }
func (r *serviceAccount) Name() string   { return r.s.ServiceAccount }
func (r *serviceAccount) Deps() []string { return nil }

func (r *serviceAccount) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	_, err := c.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: r.s.accountResource()})
	switch {
	case err == nil:
		return Change{Action: None, Detail: "the sandbox's own account"}, nil
	case !retry.IsNotFound(err):
		return Change{}, err
	}
	id, _, _ := strings.Cut(r.s.ServiceAccount, "@")
	return Change{Action: Create, Detail: "the sandbox's own account, no roles but those below", Apply: func(ctx context.Context) error {
		_, err := c.IAMAdmin.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{
			Name:      "projects/" + r.s.Project,
			AccountId: id,
			ServiceAccount: &adminpb.ServiceAccount{
				DisplayName: "cloudcoop sandbox " + r.s.Name,
				Description: "The sandbox VM's own identity, made by coopguard Provision: logs, metrics and its own secrets only.",
			},
		})
		if retry.IsAlreadyExists(err) {
			return nil
		}
		return err
	}}, nil
}

// SandboxProjectRoles are the only project-level roles a sandbox's own
// account gets: writing its logs and metrics. Posture fails anything in
// Secret Manager, Pub/Sub, Firestore, Compute, IAM or Storage.
var SandboxProjectRoles = []string{"roles/logging.logWriter", "roles/monitoring.metricWriter"}

// projectRoles grants the sandbox's own account SandboxProjectRoles on the
// project, changing only those bindings.
type projectRoles struct{ s *Sandbox }

func (r *projectRoles) Kind() string { return "project-roles" }
func (r *projectRoles) Name() string { return r.s.ServiceAccount }

// Deps: the account must exist, and the audit config (which writes the
// same policy) goes first so the two read-modify-writes do not race.
func (r *projectRoles) Deps() []string {
	return []string{"service-account/" + r.s.ServiceAccount, "auditConfig/" + AuditedService}
}

func (r *projectRoles) member() string { return "serviceAccount:" + r.s.ServiceAccount }

func (r *projectRoles) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	detail := strings.Join(SandboxProjectRoles, ", ") + " only"
	pol, err := r.read(ctx, c)
	if err != nil {
		return Change{}, err
	}
	if len(r.missing(pol)) == 0 {
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "grant " + detail, Apply: func(ctx context.Context) error {
		for range 3 {
			pol, err := r.read(ctx, c)
			if err != nil {
				return err
			}
			missing := r.missing(pol)
			if len(missing) == 0 {
				return nil
			}
			for _, role := range missing {
				addMember(pol, role, r.member())
			}
			_, err = c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + r.s.Project, Policy: pol,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bindings", "etag"}}})
			if !retry.IsPrecondition(err) {
				return err
			}
		}
		return fmt.Errorf("grant %s to %s on project %s: the policy kept changing", detail, r.member(), r.s.Project)
	}}, nil
}

// read returns the project policy at version 3, so conditional bindings
// are kept when it is written back.
func (r *projectRoles) read(ctx context.Context, c *gcp.Clients) (*iampb.Policy, error) {
	pol, err := c.Projects.GetIamPolicy(ctx, readV3("projects/"+r.s.Project))
	if err != nil {
		return nil, fmt.Errorf("read the IAM policy of project %s: %w", r.s.Project, err)
	}
	return pol, nil
}

func (r *projectRoles) missing(pol *iampb.Policy) []string {
	var out []string
	for _, role := range SandboxProjectRoles {
		if !hasMember(pol, role, r.member()) {
			out = append(out, role)
		}
	}
	return out
}

// accountUserRole lets a principal act as one service account.
const accountUserRole = "roles/iam.serviceAccountUser"

// accountUsers lets coopguard's accounts that need it (config.ActAsAccounts:
// the provisioner creates the VM running as the account, the responder and
// restorer set and clear the agents flag on that VM) act as the sandbox's
// own account, and gives the responder and restorer their identity roles
// on it (config.IdentityRoles: containment disables the account and
// deletes its keys, restore enables it again): bindings on that account's
// policy, so none may act as, disable or enable any other account.
type accountUsers struct{ s *Sandbox }

func (r *accountUsers) Kind() string { return "account-users" }
func (r *accountUsers) Name() string { return r.s.ServiceAccount }

// Deps: in a sandbox's own project the identity roles it grants are that
// project's, created by the same converge (jobroles.go).
func (r *accountUsers) Deps() []string {
	deps := []string{"service-account/" + r.s.ServiceAccount}
	if r.s.OwnProject() {
		for _, j := range config.Jobs {
			if j.Has(config.RoleIdentity) {
				deps = append(deps, ID(&customRole{r.s, j, config.RoleIdentity}))
			}
		}
	}
	return deps
}

// grantOn is one role for one member on the account's policy.
type grantOn struct{ role, member string }

func (r *accountUsers) grants() []grantOn {
	// coopguard's accounts live in its own project (home), whichever
	// project the sandbox is in; the identity roles are the sandbox
	// project's, where its account is.
	var out []grantOn
	for _, a := range config.ActAsAccounts {
		out = append(out, grantOn{accountUserRole, "serviceAccount:" + config.AccountEmail(a, r.s.home())})
	}
	for _, a := range config.Accounts {
		if id, ok := config.IdentityRoles[a]; ok {
			out = append(out, grantOn{"projects/" + r.s.Project + "/roles/" + id, "serviceAccount:" + config.AccountEmail(a, r.s.home())})
		}
	}
	return out
}

func (r *accountUsers) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	var parts []string
	for _, g := range r.grants() {
		parts = append(parts, g.role+" for "+g.member)
	}
	detail := "on this account: " + strings.Join(parts, ", ")
	pol, err := c.IAMAdmin.GetIamPolicy(ctx, readV3(r.s.accountResource()))
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: detail, Apply: r.grant(c)}, nil
	case err != nil:
		return Change{}, err
	case len(r.missing(pol.InternalProto)) == 0:
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "grant " + detail, Apply: r.grant(c)}, nil
}

func (r *accountUsers) missing(pol *iampb.Policy) []grantOn {
	var out []grantOn
	for _, g := range r.grants() {
		if !hasMember(pol, g.role, g.member) {
			out = append(out, g)
		}
	}
	return out
}

// grant adds the missing bindings by read-modify-write under the etag.
func (r *accountUsers) grant(c *gcp.Clients) func(context.Context) error {
	return func(ctx context.Context) error {
		var err error
		for range 3 {
			var pol *iam.Policy
			pol, err = c.IAMAdmin.GetIamPolicy(ctx, readV3(r.s.accountResource()))
			if err != nil {
				return err
			}
			missing := r.missing(pol.InternalProto)
			if len(missing) == 0 {
				return nil
			}
			if pol.InternalProto == nil {
				pol.InternalProto = &iampb.Policy{}
			}
			for _, g := range missing {
				addMember(pol.InternalProto, g.role, g.member)
			}
			_, err = c.IAMAdmin.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: r.s.accountResource(), Policy: pol})
			if !retry.IsPrecondition(err) {
				if err != nil {
					return fmt.Errorf("grant coopguard's roles on %s: %w (deploy/deploy.sh creates the identity roles; run it first)", r.s.ServiceAccount, err)
				}
				return nil
			}
		}
		return fmt.Errorf("grant coopguard's roles on %s: the policy kept changing: %w", r.s.ServiceAccount, err)
	}
}

// ownAccountResources are what Provision makes for a sandbox that has its
// own account: the account, its project roles and who may act as it.
func (s *Sandbox) ownAccountResources() []Resource {
	if !s.OwnAccount {
		return nil
	}
	return []Resource{&serviceAccount{s}, &projectRoles{s}, &accountUsers{s}}
}

// accountDeps are the IDs a resource that names the account waits for.
func (s *Sandbox) accountDeps() []string {
	if !s.OwnAccount {
		return nil
	}
	return []string{"service-account/" + s.ServiceAccount}
}
