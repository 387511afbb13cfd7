package posture

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// revokeKeyNamed: when containment revokes the managed key at Anthropic by
// recorded key ids ([coopguard.revoke] provider "anthropic", name_keys_by
// "key-id"), every live version of every managed secret has its key's id
// recorded; a version without one can only be disabled in Secret Manager,
// and the copies the agents hold keep working. With revocation off, or
// named by workspace or by the https endpoint, it says how the key is
// named.
type revokeKeyNamed struct{}

func (revokeKeyNamed) Name() string { return "revoke-key-named" }

func (revokeKeyNamed) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	rv := in.Config.Coopguard.Revoke
	switch {
	case rv.Provider == "":
		return pass("revocation at a provider is off: containment disables the Secret Manager versions only, and copies the agents hold still work until the key is rotated (set [coopguard.revoke] to revoke it at the provider)")
	case rv.Provider == config.RevokeHTTPS:
		return pass("the revocation endpoint %s names the keys of %s itself", rv.URL, strings.Join(in.Sandbox.Secrets, ", "))
	case rv.NameKeysBy == config.NameByWorkspace:
		return pass("every active key of Anthropic workspace %s is revoked: keep only the sandbox's keys there", rv.WorkspaceID)
	}
	if in.KeyIDs == nil {
		return Result{Status: Error, Evidence: "no incident store to read the recorded key ids from", Fix: "run posture through the deployed functions or coopguard serve, which open coopguard's Firestore database"}
	}
	var named, unnamed []string
	for _, id := range in.Sandbox.Secrets {
		vs, err := listVersions(ctx, c, in, id)
		if retry.IsNotFound(err) {
			continue // key-in-secret-manager reports the missing secret
		}
		if err != nil {
			return readError(err, "secretmanager.versions.list")
		}
		rec, err := in.KeyIDs.ProviderKeysOf(ctx, id)
		if err != nil {
			return readError(err, "datastore.entities.get")
		}
		for _, v := range vs {
			if v.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
				continue
			}
			n := lastSegment(v.GetName())
			if k, ok := rec[n]; ok && k.Provider == rv.Provider {
				named = append(named, id+"/"+n+" ("+k.KeyID+")")
			} else {
				unnamed = append(unnamed, id+"/"+n)
			}
		}
	}
	if len(unnamed) > 0 {
		return fail(fmt.Sprintf("no recorded Anthropic key id for %s: containment can disable them in Secret Manager only, and copies the agents hold still work", strings.Join(unnamed, ", ")),
			`rotate with a key source that answers {"key", "key_id"} (coopguard rotate), so every live version holds a key coopguard can name; or dedicate an Anthropic workspace to the sandbox and set coopguard.revoke.name_keys_by = "workspace"`)
	}
	return pass("every live version's Anthropic key is named: %s", joinOr(named, "no live version"))
}
