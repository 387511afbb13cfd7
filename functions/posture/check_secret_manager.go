package posture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// keyInSecretManager: every managed secret (the API key) exists in Secret
// Manager with an ENABLED version the agents can read. Only version
// metadata is listed; no payload is ever accessed.
type keyInSecretManager struct{}

func (keyInSecretManager) Name() string { return "api-key-in-secret-manager" }

func (keyInSecretManager) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	var ok, bad, fixes []string
	for _, id := range in.Sandbox.Secrets {
		vs, err := listVersions(ctx, c, in, id)
		switch {
		case retry.IsNotFound(err):
			bad = append(bad, "secret "+id+" does not exist")
			fixes = append(fixes, fmt.Sprintf("coopguard provision --config FILE (creates it empty), then: gcloud secrets versions add %s --project %s --data-file=-", id, in.Project()))
			continue
		case err != nil:
			return readError(err, "secretmanager.versions.list")
		}
		newest := newestEnabled(vs)
		if newest == nil {
			// A containment disables every version on purpose; the key
			// comes back only when a person adds one.
			bad = append(bad, fmt.Sprintf("secret %s has no ENABLED version (%d version(s); a containment disables them all)", id, len(vs)))
			fixes = append(fixes, fmt.Sprintf("once any incident is resolved, add a new key: gcloud secrets versions add %s --project %s --data-file=-", id, in.Project()))
			continue
		}
		ok = append(ok, fmt.Sprintf("%s (ENABLED version %s)", id, lastSegment(newest.GetName())))
	}
	if len(bad) > 0 {
		return fail(strings.Join(bad, "; "), strings.Join(fixes, " && "))
	}
	return pass("Secret Manager holds %s", joinOr(ok, "no managed secrets (coopguard.secrets is empty)"))
}

// listVersions lists a secret's versions (metadata only). A missing secret
// is returned as the NotFound error.
func listVersions(ctx context.Context, c *gcp.Clients, in *Input, id string) ([]*secretmanagerpb.SecretVersion, error) {
	name := "projects/" + in.Project() + "/secrets/" + id
	it := c.Secrets.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: name})
	var out []*secretmanagerpb.SecretVersion
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list versions of secret %s: %w", name, err)
		}
		out = append(out, v)
	}
}

// newestEnabled returns the most recently created ENABLED version, or nil.
func newestEnabled(vs []*secretmanagerpb.SecretVersion) *secretmanagerpb.SecretVersion {
	var best *secretmanagerpb.SecretVersion
	for _, v := range vs {
		if v.GetState() != secretmanagerpb.SecretVersion_ENABLED {
			continue
		}
		if best == nil || v.GetCreateTime().AsTime().After(best.GetCreateTime().AsTime()) {
			best = v
		}
	}
	return best
}
