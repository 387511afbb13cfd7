package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSandboxSecrets(t *testing.T) {
	long := strings.Repeat("k", 240)
	sbx63 := "s" + strings.Repeat("x", 62)
	tests := []struct {
		name    string
		secrets []string
		sandbox string
		want    []string
	}{
		{"configured keeps its ids", []string{"anthropic-api-key", "gh-token"}, "claude-sandbox", []string{"anthropic-api-key", "gh-token"}},
		{"empty is the configured", []string{"anthropic-api-key"}, "", []string{"anthropic-api-key"}},
		{"another sandbox gets its own", []string{"anthropic-api-key", "gh_token"}, "sbx2", []string{"anthropic-api-key-sbx2", "gh_token-sbx2"}},
		{"exactly 255 is kept", []string{strings.Repeat("a", 250)}, "sbx2", []string{strings.Repeat("a", 250) + "-sbx2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.Coopguard.Secrets = tt.secrets
			if got := c.SandboxSecrets(tt.sandbox); !slices.Equal(got, tt.want) {
				t.Errorf("SandboxSecrets(%q) = %v, want %v", tt.sandbox, got, tt.want)
			}
		})
	}

	t.Run("long names are shortened with a hash and stay distinct", func(t *testing.T) {
		c := Defaults()
		// Two long secrets sharing their first 200 characters, and a
		// 63-character sandbox name: both over 255 characters.
		c.Coopguard.Secrets = []string{long + "-one", long + "-two"}
		got := c.SandboxSecrets(sbx63)
		for _, id := range got {
			if len(id) != maxSecretID || !secretID.MatchString(id) {
				t.Errorf("id %q: %d characters, want a valid id of %d", id, len(id), maxSecretID)
			}
			if !strings.HasSuffix(id, "-"+sbx63) {
				t.Errorf("id %q does not end with the whole sandbox name", id)
			}
		}
		if got[0] == got[1] {
			t.Errorf("two secrets share id %q", got[0])
		}
		if other := c.SandboxSecrets("s" + strings.Repeat("y", 62)); slices.ContainsFunc(other, func(id string) bool { return slices.Contains(got, id) }) {
			t.Errorf("two sandboxes share an id: %v and %v", got, other)
		}
		if again := c.SandboxSecrets(sbx63); !slices.Equal(again, got) {
			t.Errorf("not stable: %v then %v", got, again)
		}
		for _, id := range got {
			if sb, ok := c.SecretSandbox(id); !ok || sb != sbx63 {
				t.Errorf("SecretSandbox(%q) = %q, %v; want %q", id, sb, ok, sbx63)
			}
		}
	})
}

func TestSecretSandbox(t *testing.T) {
	c := Defaults()
	c.Coopguard.Secrets = []string{"anthropic-api-key", "gh-token"}
	tests := []struct {
		id     string
		want   string
		wantOK bool
	}{
		{"anthropic-api-key", "claude-sandbox", true},
		{"gh-token", "claude-sandbox", true},
		{"anthropic-api-key-sbx2", "sbx2", true},
		{"gh-token-my-other-box", "my-other-box", true},
		{"anthropic-api-key-claude-sandbox", "", false}, // the configured sandbox keeps the configured ids
		{"anthropic-api-key-", "", false},
		{"anthropic-api-key-Sbx2", "", false}, // not an instance name
		{"other-secret-sbx2", "", false},
		{"anthropic-admin-api-key-sbx2", "", false}, // the canary
	}
	for _, tt := range tests {
		got, ok := c.SecretSandbox(tt.id)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("SecretSandbox(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSandboxSecretsConflict(t *testing.T) {
	c := Defaults()
	c.Coopguard.Secrets = []string{"k", "k-sbx2"}
	c.Coopguard.Revoke.CredentialSecret = "admin-key-box"
	tests := []struct {
		sandbox string
		wantErr string
	}{
		{"claude-sandbox", ""},
		{"sbx3", ""},
		{"sbx2", `secret "k-sbx2", which is the configured sandbox's secret`},
	}
	for _, tt := range tests {
		err := c.SandboxSecretsConflict(tt.sandbox)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("SandboxSecretsConflict(%q) = %v, want nil", tt.sandbox, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid)):
			t.Errorf("SandboxSecretsConflict(%q) = %v, want ErrInvalid with %q", tt.sandbox, err, tt.wantErr)
		}
	}
	c.Coopguard.Secrets = []string{"admin-key"}
	if err := c.SandboxSecretsConflict("box"); err == nil || !strings.Contains(err.Error(), "credential_secret") {
		t.Errorf("a sandbox whose secret is the revocation credential: %v", err)
	}
}

func TestSandboxWorkspace(t *testing.T) {
	c := Defaults()
	c.Coopguard.Revoke.WorkspaceID = "wrkspc_1"
	if got := c.SandboxWorkspace("claude-sandbox"); got != "wrkspc_1" {
		t.Errorf("configured sandbox's workspace = %q", got)
	}
	if got := c.SandboxWorkspace("sbx2"); got != "" {
		t.Errorf("another sandbox's workspace = %q, want none (the configured one's is not its)", got)
	}
}

func TestSecretsConditionRoundTrips(t *testing.T) {
	expr := SecretsCondition("123", []string{"a", "b-sbx2", "a"})
	want := `resource.name == "projects/123/secrets/a" || resource.name.startsWith("projects/123/secrets/a/") || ` +
		`resource.name == "projects/123/secrets/b-sbx2" || resource.name.startsWith("projects/123/secrets/b-sbx2/")`
	if expr != want {
		t.Errorf("SecretsCondition = %s\nwant %s", expr, want)
	}
	for _, tt := range []struct {
		number, id string
		want       bool
	}{
		{"123", "a", true}, {"123", "b-sbx2", true}, {"123", "b", false}, {"456", "a", false},
	} {
		if got := SecretNamed(expr, tt.number, tt.id); got != tt.want {
			t.Errorf("SecretNamed(%s, %s) = %v, want %v", tt.number, tt.id, got, tt.want)
		}
	}
	if got := WidenSecretsCondition(expr, "123", "a"); got != expr {
		t.Errorf("widened by a named secret: %s", got)
	}
}
