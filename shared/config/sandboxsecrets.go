package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// maxSecretID is the longest secret id Secret Manager accepts (the
// secretID syntax Validate checks).
const maxSecretID = 255

// SandboxSecrets returns the ids of sandbox's managed secrets: the one
// place their names are decided. The configured sandbox (vm.name, or "")
// keeps coopguard.secrets as written; any other sandbox gets one secret of
// its own per configured id, "<secret>-<sandbox>" (the canary's form), so
// that no two sandboxes share a key and containing one never touches
// another's. A name over Secret Manager's 255 characters keeps the whole
// sandbox name and shortens the secret part, adding 6 hex digits of a
// SHA-256 of both, as derived resource names do:
// "<secret prefix>-<hash>-<sandbox>".
func (c *Config) SandboxSecrets(sandbox string) []string {
	if sandbox == "" || sandbox == c.VM.Name {
		return slices.Clone(c.Coopguard.Secrets)
	}
	out := make([]string, len(c.Coopguard.Secrets))
	for i, s := range c.Coopguard.Secrets {
		out[i] = sandboxSecret(s, sandbox)
	}
	return out
}

// sandboxSecret is secret's id for sandbox (not the configured one).
func sandboxSecret(secret, sandbox string) string {
	id := secret + "-" + sandbox
	if len(id) <= maxSecretID {
		return id
	}
	h := sha256.Sum256([]byte(secret + "\x00" + sandbox))
	keep := maxSecretID - len(sandbox) - 1 - 6 - 1
	return secret[:keep] + "-" + hex.EncodeToString(h[:])[:6] + "-" + sandbox
}

// SandboxSecretsConflict reports why sandbox's own secrets (SandboxSecrets)
// cannot be used: one of them is a configured managed secret, the canary
// or a credential secret, which that sandbox's account would then read.
// nil for the configured sandbox and for names that clash with nothing.
func (c *Config) SandboxSecretsConflict(sandbox string) error {
	if sandbox == "" || sandbox == c.VM.Name {
		return nil
	}
	taken := map[string]string{
		c.CanarySecret(c.VM.Name):                      "the configured sandbox's canary",
		c.Coopguard.Revoke.CredentialSecret:            "coopguard.revoke.credential_secret",
		c.Coopguard.Rotation.KeySourceCredentialSecret: "coopguard.rotation.key_source_credential_secret",
	}
	for _, s := range c.Coopguard.Secrets {
		taken[s] = "the configured sandbox's secret (coopguard.secrets)"
	}
	delete(taken, "")
	for _, id := range c.SandboxSecrets(sandbox) {
		if what, ok := taken[id]; ok {
			return fmt.Errorf("%w: sandbox %q would get secret %q, which is %s: its account would read it; choose another sandbox name", ErrInvalid, sandbox, id, what)
		}
	}
	return nil
}

// SecretSandbox returns the sandbox whose managed secret id is (the
// configured sandbox, vm.name, for coopguard.secrets), or false when id is
// no sandbox's managed secret by SandboxSecrets' naming. It says what the
// name means, not that the sandbox exists: callers that act check that.
func (c *Config) SecretSandbox(id string) (string, bool) {
	if slices.Contains(c.Coopguard.Secrets, id) {
		return c.VM.Name, true
	}
	for i := strings.IndexByte(id, '-'); i >= 0; {
		name := id[i+1:]
		if ValidName(name) && name != c.VM.Name && slices.Contains(c.SandboxSecrets(name), id) {
			return name, true
		}
		j := strings.IndexByte(name, '-')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return "", false
}

// SandboxWorkspace is the Anthropic workspace dedicated to sandbox that
// revocation by workspace may empty: coopguard.revoke.workspace_id belongs
// to the configured sandbox (vm.name); any other sandbox has none, so
// revoking its key never deactivates the configured sandbox's keys.
func (c *Config) SandboxWorkspace(sandbox string) string {
	if sandbox == "" || sandbox == c.VM.Name {
		return c.Coopguard.Revoke.WorkspaceID
	}
	return ""
}

// secretsCond is the template of the managed secrets' condition.
var secretsCond = iamCondition("secrets")

// SecretsConditionTitle is the title of the condition under which job's
// Secret Manager roles (-secrets, -keysource) are bound
// (iamconditions/secrets, which deploy/deploy.sh builds from too).
func SecretsConditionTitle(job string) string { return fill(secretsCond.title, "job", job) }

// SecretsConditionPrefix starts the titles of SecretsConditionTitle.
var SecretsConditionPrefix, _, _ = strings.Cut(secretsCond.title, "{job}")

// SecretsConditionDescription is the description deploy writes on it.
var SecretsConditionDescription = secretsCond.description

// SecretsCondition is the IAM condition expression that holds on the
// secrets ids of the project numbered number and on their versions:
// Secret Manager writes resource names with the project number.
// deploy/deploy.sh builds it from the same template; Provision widens it
// with each sandbox's own secrets. Ids keep their order, duplicates
// dropped.
func SecretsCondition(number string, ids []string) string {
	expr := ""
	for _, s := range ids {
		expr = WidenSecretsCondition(expr, number, s)
	}
	return expr
}

// WidenSecretsCondition returns expression naming secret id of the
// project numbered number too; expression itself when it names it.
func WidenSecretsCondition(expression, number, id string) string {
	return widen(expression, fill(secretsCond.term, "number", number, "secret", id))
}

// SecretNamed reports whether expression names secret id of the project
// numbered number (holds its term).
func SecretNamed(expression, number, id string) bool {
	return strings.Contains(expression, fill(secretsCond.term, "number", number, "secret", id))
}
