package posture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// secretsPerSandbox: no two sandboxes share a managed secret. Each
// sandbox has its own (config.SandboxSecrets), so containing one disables
// only its own key; a secret that two sandboxes' names give, or whose IAM
// policy lets another sandbox's account in (a grant left from before
// secrets were per sandbox, or made by hand), would make one sandbox's
// containment take the other's key, and leave the contained one reading a
// key the other still uses.
type secretsPerSandbox struct{}

func (secretsPerSandbox) Name() string { return "secrets-per-sandbox" }

func (secretsPerSandbox) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	sandboxes, bad, err := sandboxesOf(ctx, c, in)
	if err != nil {
		return readError(err, "compute.instances.list")
	}
	owner := map[string]string{}    // secret id → the first sandbox it belongs to
	accounts := map[string]string{} // member, lower case → its sandbox
	var shared []string
	for _, sb := range sandboxes {
		accounts[strings.ToLower("serviceAccount:"+sb.ServiceAccount)] = sb.Name
		for _, id := range sb.Secrets {
			if o, ok := owner[id]; ok && o != sb.Name {
				shared = append(shared, fmt.Sprintf("secret %s is both %s's and %s's", id, o, sb.Name))
				continue
			}
			owner[id] = sb.Name
		}
	}
	ids := make([]string, 0, len(owner))
	for id := range owner {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var fixes []string
	for _, id := range ids {
		name := "projects/" + in.Project() + "/secrets/" + id
		// Version 3: a conditional grant shows its real role, not the
		// version-1 view's "<role>_withcond_<hash>".
		pol, err := c.Secrets.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
		if retry.IsNotFound(err) {
			continue // api-key-in-secret-manager reports it
		}
		if err != nil {
			return readError(fmt.Errorf("read the IAM policy of secret %s: %w", name, err), "secretmanager.secrets.getIamPolicy")
		}
		for _, b := range pol.GetBindings() {
			for _, m := range b.GetMembers() {
				if other, ok := accounts[strings.ToLower(m)]; ok && other != owner[id] {
					shared = append(shared, fmt.Sprintf("secret %s (%s's) grants %s to %s's account %s", id, owner[id], b.GetRole(), other, strings.TrimPrefix(m, "serviceAccount:")))
					fixes = append(fixes, fmt.Sprintf("gcloud secrets remove-iam-policy-binding %s --project %s --member=%s --role=%s", id, in.Project(), m, b.GetRole()))
				}
			}
		}
	}
	shared = append(shared, bad...)
	if len(shared) > 0 {
		fixes = append(fixes, "give each sandbox its own secrets: coopguard provision --config FILE --name SANDBOX creates <secret>-<sandbox> for a sandbox other than vm.name")
		return fail(strings.Join(shared, "; "), strings.Join(fixes, " && "))
	}
	names := make([]string, len(sandboxes))
	for i, sb := range sandboxes {
		names[i] = sb.Name
	}
	return pass("each of %d sandbox(es) (%s) has its own managed secrets, readable by no other sandbox's account", len(sandboxes), strings.Join(names, ", "))
}

// sandboxesOf returns the configured sandbox and every other sandbox
// Provision built in its zone (instances labelled coopguard-sandbox=<their
// own name>), and, as problems, those whose names give a secret that is
// already another's (config.SandboxSecretsConflict).
func sandboxesOf(ctx context.Context, c *gcp.Clients, in *Input) ([]*provisioner.Sandbox, []string, error) {
	out := []*provisioner.Sandbox{in.Sandbox}
	var bad []string
	it := c.Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: in.Project(), Zone: in.Sandbox.Zone, Filter: ptrTo("labels." + config.SandboxLabel + ":*"),
	})
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("list the sandboxes in %s/%s: %w", in.Project(), in.Sandbox.Zone, err)
		}
		name := inst.GetName()
		if name == in.Sandbox.Name || inst.GetLabels()[config.SandboxLabel] != name {
			continue
		}
		if err := in.Config.SandboxSecretsConflict(name); err != nil {
			bad = append(bad, err.Error())
			continue
		}
		sb, err := provisioner.NewSandbox(in.Config, name, "")
		if err != nil {
			continue // not a name Provision accepts: not one it built
		}
		out = append(out, sb)
	}
	slices.SortStableFunc(out[1:], func(a, b *provisioner.Sandbox) int { return strings.Compare(a.Name, b.Name) })
	return out, bad, nil
}

func ptrTo[T any](v T) *T { return &v }
