package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRevokeValidation(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // substring naming the key; "" for valid
	}{
		{"off by default", nil, ""},
		{"anthropic with key ids", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "coopguard-anthropic-admin"}, ""},
		{"anthropic by workspace", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "adm", "COOPGUARD_REVOKE_NAME_KEYS_BY": "workspace", "COOPGUARD_REVOKE_WORKSPACE_ID": "wrkspc_01"}, ""},
		{"https", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "https", "COOPGUARD_REVOKE_URL": "https://keys.example.com/revoke", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "revoke-token"}, ""},
		{"unknown provider", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "openai"}, "coopguard.revoke.provider"},
		{"https needs a url", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "https", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "t"}, "coopguard.revoke.url"},
		{"clear-text url", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "https", "COOPGUARD_REVOKE_URL": "http://keys.example.com/", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "t"}, "coopguard.revoke.url"},
		{"no credential secret", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic"}, "coopguard.revoke.credential_secret"},
		{"admin key in a managed secret", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "anthropic-api-key"}, "only coopguard's responder reads"},
		{"admin key in the canary", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "anthropic-admin-api-key-claude-sandbox"}, "canary"},
		{"workspace without id", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "adm", "COOPGUARD_REVOKE_NAME_KEYS_BY": "workspace"}, "coopguard.revoke.workspace_id"},
		{"unknown naming", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "adm", "COOPGUARD_REVOKE_NAME_KEYS_BY": "name"}, "coopguard.revoke.name_keys_by"},
		{"timeout out of range", map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "adm", "COOPGUARD_REVOKE_TIMEOUT": "5m"}, "coopguard.revoke.timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromBase(Demo(), mapLookup(tt.env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Coopguard.Revoke.Provider == RevokeAnthropic && c.Coopguard.Revoke.BaseURL() != AnthropicAPI {
					t.Errorf("BaseURL = %s", c.Coopguard.Revoke.BaseURL())
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
