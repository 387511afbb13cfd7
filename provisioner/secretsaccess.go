package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// secretsAccess names a sandbox's own managed secrets (a sandbox other
// than the configured one: Sandbox.OwnSecrets) in the conditions under
// which deploy bound each coopguard job's Secret Manager roles
// (config.SecretsConditionTitle): the responder may then disable that
// sandbox's key versions, the restorer re-enable them, the reader and
// the rotator read and rotate them, and none of them touches a secret no
// condition names. Deploy names the configured secrets; this widens
// those bindings' conditions, changing nothing else.
type secretsAccess struct{ s *Sandbox }

func (r *secretsAccess) Kind() string { return "secrets-access" }
func (r *secretsAccess) Name() string { return r.s.Name }

// Deps: the project policy's other writers go first, so the
// read-modify-writes do not race; the secrets exist before they are
// named (their names carry the project number the condition uses).
func (r *secretsAccess) Deps() []string {
	deps := []string{ID(&sandboxAccess{r.s})}
	for _, id := range r.s.Secrets {
		deps = append(deps, ID(&secret{r.s, id}))
	}
	return deps
}

// number is the project number Secret Manager names the sandbox's secrets
// under, as the conditions name them ("" while none of them exists).
func (r *secretsAccess) number(ctx context.Context, c *gcp.Clients) (string, error) {
	for _, id := range r.s.Secrets {
		sec, err := c.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: (&secret{r.s, id}).path()})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read secret %s of sandbox %s: %w", id, r.s.Name, err)
		}
		if seg := strings.Split(sec.GetName(), "/"); len(seg) == 4 && seg[0] == "projects" {
			return seg[1], nil
		}
	}
	return "", nil
}

func (r *secretsAccess) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	pol, err := (&projectRoles{r.s}).read(ctx, c)
	if err != nil {
		return Change{}, err
	}
	bs := secretsBindings(pol)
	if len(bs) == 0 {
		// deploy/deploy.sh has not bound the jobs' Secret Manager roles:
		// no job can touch any managed secret, so there is nothing to widen.
		return Change{Action: None, Detail: "no " + config.SecretsConditionPrefix + "* binding in project " + r.s.Project + " (deploy/deploy.sh binds them): nothing to widen"}, nil
	}
	detail := fmt.Sprintf("secrets %s named in the %s* conditions of %d binding(s)", strings.Join(r.s.Secrets, ", "), config.SecretsConditionPrefix, len(bs))
	num, err := r.number(ctx, c)
	if err != nil {
		return Change{}, err
	}
	// A secret not made yet is named by none: the change names it once made.
	if num != "" && !r.missing(pol, num) {
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "name " + detail, Apply: func(ctx context.Context) error {
		for range 3 {
			pol, err := (&projectRoles{r.s}).read(ctx, c)
			if err != nil {
				return err
			}
			num, err := r.number(ctx, c)
			if err != nil {
				return err
			}
			if num == "" {
				return fmt.Errorf("name sandbox %s's secrets in the %s* conditions on project %s: none of its secrets %s exists (Provision makes them first)", r.s.Name, config.SecretsConditionPrefix, r.s.Project, strings.Join(r.s.Secrets, ", "))
			}
			if !r.missing(pol, num) {
				return nil
			}
			for _, b := range secretsBindings(pol) {
				for _, id := range r.s.Secrets {
					b.Condition.Expression = config.WidenSecretsCondition(b.GetCondition().GetExpression(), num, id)
				}
			}
			// deploy/deploy.sh run again binds its narrower condition
			// beside the one widened here; widened too, it is the same
			// binding twice: keep one.
			pol.Bindings = dedupe(pol.Bindings)
			pol.Version = 3 // conditional bindings
			_, err = c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + r.s.Project, Policy: pol,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bindings", "etag"}}})
			if !retry.IsPrecondition(err) {
				if err != nil {
					return fmt.Errorf("name sandbox %s's secrets in the %s* conditions on project %s: %w", r.s.Name, config.SecretsConditionPrefix, r.s.Project, err)
				}
				return nil
			}
		}
		return fmt.Errorf("name sandbox %s's secrets in the %s* conditions on project %s: the policy kept changing", r.s.Name, config.SecretsConditionPrefix, r.s.Project)
	}}, nil
}

// missing reports whether a managed-secrets binding of pol does not name
// every one of the sandbox's secrets (of the project numbered num).
func (r *secretsAccess) missing(pol *iampb.Policy, num string) bool {
	for _, b := range secretsBindings(pol) {
		if slices.ContainsFunc(r.s.Secrets, func(id string) bool { return !config.SecretNamed(b.GetCondition().GetExpression(), num, id) }) {
			return true
		}
	}
	return false
}

// dedupe drops the bindings equal to an earlier one.
func dedupe(bs []*iampb.Binding) []*iampb.Binding {
	var out []*iampb.Binding
	for _, b := range bs {
		if !slices.ContainsFunc(out, func(o *iampb.Binding) bool { return proto.Equal(o, b) }) {
			out = append(out, b)
		}
	}
	return out
}

// secretsBindings are pol's bindings under a condition deploy titled
// config.SecretsConditionTitle (one per job's -secrets or -keysource
// role).
func secretsBindings(pol *iampb.Policy) []*iampb.Binding {
	var out []*iampb.Binding
	for _, b := range pol.GetBindings() {
		if strings.HasPrefix(b.GetCondition().GetTitle(), config.SecretsConditionPrefix) {
			out = append(out, b)
		}
	}
	return out
}
