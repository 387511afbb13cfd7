package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// DisableSecrets disables every enabled version of the managed secrets, so
// a leaked API key stops working. Only secrets named in config are touched.
type DisableSecrets struct{}

// Name implements Action.
func (DisableSecrets) Name() string { return "disable-secrets" }

// Mutates implements Action.
func (DisableSecrets) Mutates() bool { return true }

// Run implements Action.
func (DisableSecrets) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: strings.Join(t.Secrets, ",")}
	var (
		mu       sync.Mutex
		disabled []string
		errs     []error
		wg       sync.WaitGroup
	)
	for _, id := range t.Secrets {
		wg.Go(func() {
			names, err := disableSecret(ctx, c, t, id)
			mu.Lock()
			defer mu.Unlock()
			disabled = append(disabled, names...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		out.Detail, out.Changed = "disabled "+versionList(disabled), disabled
		return out, err
	}
	switch {
	case len(disabled) == 0:
		out.Result, out.Detail = incident.ResultAlready, "no enabled version"
	case t.DryRun:
		out.Result, out.Detail = incident.ResultDryRun, "would disable "+versionList(disabled)
	default:
		out.Result, out.Detail, out.Changed = incident.ResultDone, "disabled "+versionList(disabled), disabled
	}
	return out, nil
}

// disableSecret disables the enabled versions of one secret in parallel
// and returns the names of those this call disabled (all of them in a
// dry run).
func disableSecret(ctx context.Context, c *gcp.Clients, t *Target, id string) ([]string, error) {
	parent := "projects/" + t.Project + "/secrets/" + id
	var enabled []*secretmanagerpb.SecretVersion
	it := c.Secrets.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: parent, Filter: "state:ENABLED", PageSize: 250})
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if retry.IsNotFound(err) {
			return nil, nil // nothing to disable; Status shows the secret is missing
		}
		if err != nil {
			return nil, errorf(err, "list versions of secret %s", id)
		}
		if v.GetState() == secretmanagerpb.SecretVersion_ENABLED {
			enabled = append(enabled, v)
		}
	}
	names := make([]string, len(enabled))
	for i, v := range enabled {
		names[i] = v.GetName()
	}
	if t.DryRun {
		return names, nil
	}
	errs := make([]error, len(enabled))
	changed := make([]bool, len(enabled))
	var wg sync.WaitGroup
	for i, v := range enabled {
		wg.Go(func() { changed[i], errs[i] = disableVersion(ctx, c, v) })
	}
	wg.Wait()
	// Only what this call disabled counts as its change: a version another
	// incident disabled meanwhile is not this one's to restore.
	var mine []string
	for i, v := range enabled {
		if changed[i] {
			mine = append(mine, v.GetName())
		}
	}
	return mine, errors.Join(errs...)
}

// disableVersion disables one version listed as enabled, under its etag.
// When the version changed since (another incident's containment got
// there first), it is read again: already disabled is no change, still
// enabled is disabled under the fresh etag.
func disableVersion(ctx context.Context, c *gcp.Clients, v *secretmanagerpb.SecretVersion) (bool, error) {
	for attempt := 0; attempt < 3; attempt++ {
		_, err := c.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: v.GetName(), Etag: v.GetEtag()})
		if !retry.IsPrecondition(err) {
			if err != nil {
				return false, errorf(err, "disable %s", v.GetName())
			}
			return true, nil
		}
		cur, err := c.Secrets.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: v.GetName()})
		if err != nil {
			return false, errorf(err, "read %s after its etag changed", v.GetName())
		}
		if cur.GetState() != secretmanagerpb.SecretVersion_ENABLED {
			return false, nil
		}
		v = cur
	}
	return false, fmt.Errorf("disable %s: it kept changing under us (etag); retry the incident", v.GetName())
}

// versionList shortens version names to "secret/N".
func versionList(names []string) string {
	short := make([]string, len(names))
	for i, n := range names {
		parts := strings.Split(n, "/")
		if len(parts) == 6 {
			n = parts[3] + "/" + parts[5]
		}
		short[i] = n
	}
	return fmt.Sprintf("[%s]", strings.Join(short, " "))
}
