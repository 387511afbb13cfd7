package config

import (
	"slices"
	"time"

	"github.com/cloudcoop/coopguard/shared/outbound"
)

// Revocation providers of [coopguard.revoke].
const (
	// RevokeAnthropic revokes through Anthropic's Admin API (sets the
	// key's status to inactive).
	RevokeAnthropic = "anthropic"
	// RevokeHTTPS calls the user's own HTTPS endpoint.
	RevokeHTTPS = "https"
)

// How an anthropic provider names the managed key (name_keys_by).
const (
	// NameByKeyID revokes the keys whose Anthropic ids coopguard recorded
	// for the managed secrets' versions when rotation added them.
	NameByKeyID = "key-id"
	// NameByWorkspace revokes every active key of a workspace dedicated
	// to the sandbox.
	NameByWorkspace = "workspace"
)

// AnthropicAPI is the Admin API's base URL.
const AnthropicAPI = "https://api.anthropic.com"

// Revoke is the [coopguard.revoke] table: making the managed key stop
// working at its provider, which disabling Secret Manager versions cannot
// do (the agents hold copies). coopguard never reads the managed key; the
// provider is told which key by its id or workspace.
type Revoke struct {
	// Provider is "anthropic", "https" or "" (off: containment disables
	// the Secret Manager versions only).
	Provider string `toml:"provider" env:"COOPGUARD_REVOKE_PROVIDER"`
	// URL is the Admin API's base URL (anthropic; default AnthropicAPI) or
	// the revocation endpoint (https).
	URL string `toml:"url" env:"COOPGUARD_REVOKE_URL"`
	// CredentialSecret is the id of the secret holding the Admin API key
	// (anthropic) or the endpoint's bearer credential (https). Only the
	// responder may read it; the sandbox's account must not.
	CredentialSecret string `toml:"credential_secret" env:"COOPGUARD_REVOKE_CREDENTIAL_SECRET"`
	// NameKeysBy is key-id (default) or workspace (anthropic).
	NameKeysBy string `toml:"name_keys_by" env:"COOPGUARD_REVOKE_NAME_KEYS_BY"`
	// WorkspaceID is the Anthropic workspace dedicated to the sandbox:
	// required with name_keys_by = "workspace"; with key-id, keys outside
	// it are not revoked.
	WorkspaceID string `toml:"workspace_id" env:"COOPGUARD_REVOKE_WORKSPACE_ID"`
	// Timeout bounds each request to the provider.
	Timeout Duration `toml:"timeout" env:"COOPGUARD_REVOKE_TIMEOUT"`
}

// defaultRevoke is the table's default: off.
func defaultRevoke() Revoke {
	return Revoke{NameKeysBy: NameByKeyID, Timeout: Duration{10 * time.Second}}
}

// validateRevoke checks [coopguard.revoke].
func (c *Config) validateRevoke(bad func(key, env, format string, args ...any)) {
	r := c.Coopguard.Revoke
	switch r.Provider {
	case "":
		return
	case RevokeAnthropic, RevokeHTTPS:
	default:
		bad("coopguard.revoke.provider", "COOPGUARD_REVOKE_PROVIDER", "%q is not a provider: want anthropic, https, or \"\" to revoke nothing at a provider", r.Provider)
		return
	}
	switch {
	case r.Provider == RevokeHTTPS && r.URL == "":
		bad("coopguard.revoke.url", "COOPGUARD_REVOKE_URL", "is required with provider = \"https\": the endpoint that revokes the managed key")
	case r.URL != "":
		if err := outbound.CheckURL(r.URL); err != nil {
			bad("coopguard.revoke.url", "COOPGUARD_REVOKE_URL", "%v", err)
		}
	}
	switch cs := r.CredentialSecret; {
	case !secretID.MatchString(cs):
		bad("coopguard.revoke.credential_secret", "COOPGUARD_REVOKE_CREDENTIAL_SECRET", "%q is not a secret id: name the secret holding the %s (letters, digits, '-' and '_')", cs, r.credentialName())
	case slices.Contains(c.Coopguard.Secrets, cs):
		bad("coopguard.revoke.credential_secret", "COOPGUARD_REVOKE_CREDENTIAL_SECRET", "%q is a managed secret, which the sandbox may read: keep the %s in a secret only coopguard's responder reads", cs, r.credentialName())
	case c.Coopguard.Canary.Enabled && cs == c.CanarySecret(c.VM.Name):
		bad("coopguard.revoke.credential_secret", "COOPGUARD_REVOKE_CREDENTIAL_SECRET", "%q is the sandbox's canary secret: pick another secret for the %s", cs, r.credentialName())
	}
	if r.Provider == RevokeAnthropic {
		switch r.NameKeysBy {
		case NameByKeyID:
		case NameByWorkspace:
			if r.WorkspaceID == "" {
				bad("coopguard.revoke.workspace_id", "COOPGUARD_REVOKE_WORKSPACE_ID", "is required with name_keys_by = \"workspace\": the id (wrkspc_…) of the Anthropic workspace dedicated to this sandbox")
			}
		default:
			bad("coopguard.revoke.name_keys_by", "COOPGUARD_REVOKE_NAME_KEYS_BY", "%q: want key-id (the key ids rotation records) or workspace (every active key of workspace_id)", r.NameKeysBy)
		}
	}
	if r.Timeout.Duration <= 0 || r.Timeout.Duration > time.Minute {
		bad("coopguard.revoke.timeout", "COOPGUARD_REVOKE_TIMEOUT", "%s is out of range: want more than 0 and at most 1m, e.g. 10s", r.Timeout)
	}
}

func (r Revoke) credentialName() string {
	if r.Provider == RevokeAnthropic {
		return "Anthropic Admin API key (sk-ant-admin…)"
	}
	return "endpoint's credential"
}

// BaseURL is the provider's URL: for anthropic, AnthropicAPI unless set.
func (r Revoke) BaseURL() string {
	if r.URL == "" && r.Provider == RevokeAnthropic {
		return AnthropicAPI
	}
	return r.URL
}
