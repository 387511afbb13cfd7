package actions_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// TestEnableSecretsNamesByIDOrNumber pins that resolve --restore re-enables
// what the incident disabled whether the recorded names carry the project
// id or, as Secret Manager answers, the project number, and nothing of
// another project or of an unmanaged secret.
func TestEnableSecretsNamesByIDOrNumber(t *testing.T) {
	const project = "coopguard-demo"
	num := fmt.Sprint(resourcemanager.ProjectNumber(project))
	other := fmt.Sprint(resourcemanager.ProjectNumber("someone-else"))
	tests := []struct {
		name    string
		restore []string
		result  string
		enabled []string // versions of anthropic-api-key ENABLED afterwards
	}{
		{"by number, as disable-secrets records them", []string{"projects/" + num + "/secrets/anthropic-api-key/versions/1", "projects/" + num + "/secrets/anthropic-api-key/versions/2"}, incident.ResultDone, []string{"1", "2"}},
		{"by id", []string{"projects/" + project + "/secrets/anthropic-api-key/versions/2"}, incident.ResultDone, []string{"2"}},
		{"another project's number", []string{"projects/" + other + "/secrets/anthropic-api-key/versions/1"}, incident.ResultAlready, nil},
		{"unmanaged secret", []string{"projects/" + num + "/secrets/other-key/versions/1"}, incident.ResultAlready, nil},
		{"managed secret missing", []string{"projects/" + num + "/secrets/gone/versions/1"}, incident.ResultAlready, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, err := emulator.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = emu.Close() })
			ctx := context.Background()
			c, err := emu.Clients(ctx, project)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			emu.SecretManager.SeedSecret(project, "anthropic-api-key", []byte("sk-one"), []byte("sk-two"))
			emu.SecretManager.SeedSecret(project, "other-key", []byte("sk-other"))
			for _, v := range []string{"anthropic-api-key/versions/1", "anthropic-api-key/versions/2", "other-key/versions/1"} {
				if _, err := c.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: "projects/" + project + "/secrets/" + v}); err != nil {
					t.Fatal(err)
				}
			}
			tgt := &actions.Target{Project: project, Secrets: []string{"anthropic-api-key", "gone"}, Restore: tt.restore}
			out, err := actions.EnableSecrets{}.Run(ctx, c, tgt)
			if err != nil {
				t.Fatal(err)
			}
			if out.Result != tt.result {
				t.Errorf("result = %s (%s), want %s", out.Result, out.Detail, tt.result)
			}
			var enabled []string
			for _, v := range emu.SecretManager.Versions("projects/" + project + "/secrets/anthropic-api-key") {
				if v.GetState() == secretmanagerpb.SecretVersion_ENABLED {
					enabled = append(enabled, v.GetName()[len(v.GetName())-1:])
				}
			}
			if !slices.Equal(enabled, tt.enabled) {
				t.Errorf("enabled versions = %v, want %v", enabled, tt.enabled)
			}
			if v := emu.SecretManager.Versions("projects/" + project + "/secrets/other-key")[0]; v.GetState() != secretmanagerpb.SecretVersion_DISABLED {
				t.Errorf("unmanaged other-key/1 = %s, want DISABLED", v.GetState())
			}
		})
	}
}
