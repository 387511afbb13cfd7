package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mapLookup(m map[string]string) Lookuper {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const cloudcoopFile = `
[cloud]
provider = "gcp"

[cloud.gcp]
project = "my-sandbox-proj"
zone = "europe-west1-b"
service_account = "cc-sandbox@my-sandbox-proj.iam.gserviceaccount.com"

[vm]
name = "agent-box"
machine_type = "e2-standard-8"
disk_size_gb = 100
image = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
tags = ["dev"]

[agents]
count = 3

[coopguard]
secrets = ["anthropic-api-key", "github-token"]
[coopguard.playbooks]
"sandbox CPU" = "quarantine"
[coopguard.notify]
channels = ["projects/my-sandbox-proj/notificationChannels/42", "projects/123456789012/notificationChannels/7"]

[coopguard.rotation]
max_age = "30d"
grace = "12h"
[coopguard.evidence]
nat_logs = "errors"
[[coopguard.rules]]
name = "x"
expression = "true"
playbook = "notify"
severity = "INFO"
`

func TestLoadFileAndEnv(t *testing.T) {
	c, err := Load(writeFile(t, cloudcoopFile), mapLookup(map[string]string{
		"COOPGUARD_ZONE":             "europe-west1-c",
		"COOPGUARD_DRY_RUN":          "true",
		"COOPGUARD_VM_TAGS":          "a, b",
		"COOPGUARD_PLAYBOOKS":        "p1=notify; p2=contain",
		"COOPGUARD_ROTATION_MAX_AGE": "7d",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"project", c.Cloud.GCP.Project, "my-sandbox-proj"},
		{"zone from env", c.Cloud.GCP.Zone, "europe-west1-c"},
		{"region", c.Region(), "europe-west1"},
		{"vm name", c.VM.Name, "agent-box"},
		{"disk", c.VM.DiskSizeGB, int64(100)},
		{"tags from env", strings.Join(c.VM.Tags, ","), "a,b"},
		{"dry run", c.Coopguard.DryRun, true},
		{"secrets", strings.Join(c.Coopguard.Secrets, ","), "anthropic-api-key,github-token"},
		{"playbooks from env replace file", c.Coopguard.Playbooks["p1"] + c.Coopguard.Playbooks["sandbox CPU"], "notify"},
		{"max age from env", c.Coopguard.Rotation.MaxAge.Duration, 7 * 24 * time.Hour},
		{"grace", c.Coopguard.Rotation.Grace.Duration, 12 * time.Hour},
		{"rules", len(c.Coopguard.Rules), 1},
		{"default topic", c.Coopguard.Topics.Alerts, "coopguard-alerts"},
		{"nat logs from file", c.Coopguard.Evidence.NATLogs, NATLogsErrors},
		{"nat logs default", Defaults().Coopguard.Evidence.NATLogs, NATLogsAll},
		{"notify channels (by project id or number)", strings.Join(c.Coopguard.Notify.Channels, ","), "projects/my-sandbox-proj/notificationChannels/42,projects/123456789012/notificationChannels/7"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	base := map[string]string{
		"COOPGUARD_PROJECT":         "my-sandbox-proj",
		"COOPGUARD_ZONE":            "us-central1-a",
		"COOPGUARD_SERVICE_ACCOUNT": "cc-sandbox@my-sandbox-proj.iam.gserviceaccount.com",
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantKey string
		wantMsg string
	}{
		{"missing service account", map[string]string{"COOPGUARD_SERVICE_ACCOUNT": ""}, "cloud.gcp.service_account", "is required"},
		{"default compute SA", map[string]string{"COOPGUARD_SERVICE_ACCOUNT": "123456789012-compute@developer.gserviceaccount.com"}, "cloud.gcp.service_account", "default Compute Engine service account"},
		{"bad vm name", map[string]string{"COOPGUARD_VM_NAME": "Claude_Sandbox"}, "vm.name", "RFC 1035"},
		{"vm name too long", map[string]string{"COOPGUARD_VM_NAME": strings.Repeat("a", 64)}, "vm.name", "RFC 1035"},
		{"bad zone", map[string]string{"COOPGUARD_ZONE": "us-central1"}, "cloud.gcp.zone", "not a zone"},
		{"missing project", map[string]string{"COOPGUARD_PROJECT": ""}, "cloud.gcp.project", "is required"},
		{"bad bool", map[string]string{"COOPGUARD_DRY_RUN": "maybe"}, "COOPGUARD_DRY_RUN", "true or false"},
		{"bad playbook", map[string]string{"COOPGUARD_PLAYBOOKS": "p=delete-everything"}, "coopguard.playbooks", "want contain"},
		{"bad duration", map[string]string{"COOPGUARD_ROTATION_GRACE": "soon"}, "COOPGUARD_ROTATION_GRACE", "bad duration"},
		{"plain http key source", map[string]string{"COOPGUARD_ROTATION_KEY_SOURCE_URL": "http://minter.example.com", "COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET": "minter"}, "key_source_url", "https://"},
		{"quarantine tag reserved", map[string]string{"COOPGUARD_VM_TAGS": "coopguard-quarantine"}, "vm.tags", "reserved"},
		{"canary not a secret id", map[string]string{"COOPGUARD_CANARY_SECRET": "admin key"}, "coopguard.canary.secret", "not a secret id"},
		{"canary empty while enabled", map[string]string{"COOPGUARD_CANARY_SECRET": ""}, "coopguard.canary.secret", "coopguard.canary.enabled = false"},
		{"canary is a managed secret", map[string]string{"COOPGUARD_CANARY_SECRET": "anthropic-api-key"}, "coopguard.canary.secret", "also in coopguard.secrets"},
		{"canary too long", map[string]string{"COOPGUARD_CANARY_SECRET": strings.Repeat("k", 250)}, "coopguard.canary.secret", "255 characters"},
		{"channel not a full name", map[string]string{"COOPGUARD_NOTIFY_CHANNELS": "12345"}, "coopguard.notify.channels", "projects/PROJECT/notificationChannels/ID"},
		{"channel of another project", map[string]string{"COOPGUARD_NOTIFY_CHANNELS": "projects/other-proj/notificationChannels/1"}, "coopguard.notify.channels", "in project other-proj"},
		{"canary enabled not a bool", map[string]string{"COOPGUARD_CANARY_ENABLED": "yes please"}, "COOPGUARD_CANARY_ENABLED", "true or false"},
		{"nat logs unknown", map[string]string{"COOPGUARD_EVIDENCE_NAT_LOGS": "translations"}, "coopguard.evidence.nat_logs", `want "all"`},
		{"nat logs upper case", map[string]string{"COOPGUARD_EVIDENCE_NAT_LOGS": "ALL"}, "coopguard.evidence.nat_logs", `"off"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := Load("", mapLookup(env))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantKey) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to name %q and say %q", err, tt.wantKey, tt.wantMsg)
			}
		})
	}
}

func TestCanarySecret(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		sandbox string
		want    string
	}{
		{"on by default", nil, "claude-sandbox", "anthropic-admin-api-key-claude-sandbox"},
		{"one per sandbox", nil, "sandbox-2", "anthropic-admin-api-key-sandbox-2"},
		{"configured name", map[string]string{"COOPGUARD_CANARY_SECRET": "openai-api-key"}, "claude-sandbox", "openai-api-key-claude-sandbox"},
		{"off", map[string]string{"COOPGUARD_CANARY_ENABLED": "false", "COOPGUARD_CANARY_SECRET": "not checked when off"}, "claude-sandbox", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromBase(Demo(), mapLookup(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.CanarySecret(tt.sandbox); got != tt.want {
				t.Errorf("CanarySecret(%q) = %q, want %q", tt.sandbox, got, tt.want)
			}
		})
	}
}

func TestUnknownCoopguardKey(t *testing.T) {
	_, err := Load(writeFile(t, cloudcoopFile+"\n[coopguard.rotaton]\nmax_age = \"1d\"\n"), mapLookup(nil))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "coopguard.rotaton") {
		t.Fatalf("err = %v, want unknown key coopguard.rotaton", err)
	}
}

func TestDemoIsValid(t *testing.T) {
	if err := func() error { c := Demo(); return c.Validate() }(); err != nil {
		t.Fatal(err)
	}
}

func TestEnvNamesCoverEveryKey(t *testing.T) {
	names := EnvNames()
	if len(names) < 20 {
		t.Fatalf("EnvNames = %v, want every key", names)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate env name %s", n)
		}
		seen[n] = true
	}
}
