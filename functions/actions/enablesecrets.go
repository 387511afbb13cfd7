package actions

import (
	"context"
	"slices"
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// EnableSecrets re-enables exactly the secret versions an incident disabled
// (Target.Restore), for `coopguard resolve --restore`. It touches only
// versions of managed secrets in the target project, and leaves destroyed
// versions alone. Secret Manager names versions by project number while
// config names the project by id: both count as the target project.
type EnableSecrets struct{}

// Name implements Action.
func (EnableSecrets) Name() string { return "enable-secrets" }

// Mutates implements Action.
func (EnableSecrets) Mutates() bool { return true }

// Run implements Action.
func (EnableSecrets) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: strings.Join(t.Secrets, ",")}
	var enabled, skipped []string
	numbers := map[string]string{} // managed secret id → its project number
	for _, name := range t.Restore {
		managed, err := managedVersion(ctx, c, t, name, numbers)
		if err != nil {
			return out, err
		}
		if !managed {
			skipped = append(skipped, name)
			continue
		}
		v, err := c.Secrets.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: name})
		if err != nil {
			return out, errorf(err, "read %s", name)
		}
		if v.GetState() != secretmanagerpb.SecretVersion_DISABLED {
			continue
		}
		if !t.DryRun {
			if _, err := c.Secrets.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: name, Etag: v.GetEtag()}); err != nil {
				return out, errorf(err, "enable %s", name)
			}
		}
		enabled = append(enabled, name)
	}
	switch {
	case len(enabled) == 0:
		out.Result, out.Detail = incident.ResultAlready, "nothing to re-enable"
	case t.DryRun:
		out.Result, out.Detail = incident.ResultDryRun, "would re-enable "+versionList(enabled)
	default:
		out.Result, out.Detail, out.Changed = incident.ResultDone, "re-enabled "+versionList(enabled), enabled
	}
	if len(skipped) > 0 {
		out.Detail += "; not managed, left alone: " + versionList(skipped)
	}
	return out, nil
}

// managedVersion reports whether name is a version of a managed secret in
// the target project, named by the project's id or by its number. The
// number is the one Secret Manager itself answers for the managed secret
// (GetSecret by id names it by number), so no other API or permission is
// needed; numbers caches it per secret id.
func managedVersion(ctx context.Context, c *gcp.Clients, t *Target, name string, numbers map[string]string) (bool, error) {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[2] != "secrets" || p[4] != "versions" || !slices.Contains(t.Secrets, p[3]) {
		return false, nil
	}
	if p[1] == t.Project {
		return true, nil
	}
	num, ok := numbers[p[3]]
	if !ok {
		sec, err := c.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/" + t.Project + "/secrets/" + p[3]})
		if retry.IsNotFound(err) {
			return false, nil // nothing of ours to re-enable
		}
		if err != nil {
			return false, errorf(err, "read secret %s", p[3])
		}
		num = strings.Split(sec.GetName(), "/")[1]
		numbers[p[3]] = num
	}
	return p[1] == num, nil
}
