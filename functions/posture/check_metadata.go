package posture

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

var (
	// credentialKeyRE matches metadata keys that name a credential. Older
	// cloudcoop installs put the key in metadata as anthropic-api-key.
	credentialKeyRE = regexp.MustCompile(`(?i)(api[-_]?key|secret|token|password|passwd|credential|private[-_]?key)`)
	// keyValueRE matches values that carry an Anthropic API key, wherever
	// they are embedded (a startup script, say).
	keyValueRE = regexp.MustCompile(`sk-ant-[A-Za-z0-9_-]{8,}`)
)

// noKeyInMetadata: no instance metadata item holds the API key (or any
// other credential). Metadata is readable by every process on the VM and
// by anyone with compute.instances.get; the key belongs in Secret Manager.
// Evidence names keys only, never values.
type noKeyInMetadata struct{}

func (noKeyInMetadata) Name() string { return "no-key-in-metadata" }

func (noKeyInMetadata) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	if inst == nil {
		return noVM(in)
	}
	var found []string
	var keys []string
	for _, it := range inst.GetMetadata().GetItems() {
		k := it.GetKey()
		why := ""
		switch {
		case slices.ContainsFunc(in.Sandbox.Secrets, func(s string) bool { return normalizeKey(s) == normalizeKey(k) }):
			why = "named after the managed secret"
		case credentialKeyRE.MatchString(k):
			why = "named like a credential"
		case keyValueRE.MatchString(it.GetValue()):
			why = "value contains an Anthropic API key"
		default:
			continue
		}
		found = append(found, fmt.Sprintf("%q (%s; value withheld)", k, why))
		keys = append(keys, k)
	}
	if len(found) > 0 {
		return fail(fmt.Sprintf("VM %s metadata: %s", inst.GetName(), strings.Join(found, ", ")),
			fmt.Sprintf("gcloud compute instances remove-metadata %s --zone %s --project %s --keys %s; then treat the key as exposed: revoke it at its issuer and add a new version to Secret Manager (gcloud secrets versions add)",
				inst.GetName(), in.Sandbox.Zone, in.Project(), strings.Join(keys, ",")))
	}
	return pass("VM %s: %d metadata item(s), none holds a key", inst.GetName(), len(inst.GetMetadata().GetItems()))
}

// normalizeKey folds case and _ vs - so ANTHROPIC_API_KEY matches
// anthropic-api-key.
func normalizeKey(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
