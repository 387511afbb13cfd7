package actions

import (
	"context"
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// EnableSecrets re-enables exactly the secret versions an incident disabled
// (Target.Restore), for `coopguard resolve --restore`. It touches only
// versions of managed secrets, and leaves destroyed versions alone.
type EnableSecrets struct{}

// Name implements Action.
func (EnableSecrets) Name() string { return "enable-secrets" }

// Mutates implements Action.
func (EnableSecrets) Mutates() bool { return true }

// Run implements Action.
func (EnableSecrets) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: strings.Join(t.Secrets, ",")}
	var enabled, skipped []string
	for _, name := range t.Restore {
		if !managedVersion(t, name) {
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
// the target project.
func managedVersion(t *Target, name string) bool {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[1] != t.Project || p[2] != "secrets" || p[4] != "versions" {
		return false
	}
	for _, s := range t.Secrets {
		if s == p[3] {
			return true
		}
	}
	return false
}
