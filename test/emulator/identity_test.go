package emulator_test

import (
	"context"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestResponderSecretsAreTheManagedOnes: deployed as deploy.sh deploys
// it, the responder's Secret Manager permissions hold on the managed
// secrets and their versions only (an IAM condition on resource.name): it
// disables, enables and lists the API key's versions, and is refused the
// same calls one secret over.
func TestResponderSecretsAreTheManagedOnes(t *testing.T) {
	cfg := config.Demo()
	project := cfg.Cloud.GCP.Project
	emu, ctx := startProject(t, project)
	if err := emu.DeployConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	managed := cfg.Coopguard.Secrets[0]
	emu.SecretManager.SeedSecret(project, managed, []byte("sk-MANAGED"))
	emu.SecretManager.SeedSecret(project, "billing-token", []byte("sk-OTHER"))
	// A look-alike whose name starts with the managed one's.
	emu.SecretManager.SeedSecret(project, managed+"-backup", []byte("sk-BACKUP"))
	resp, err := emu.ClientsAs(ctx, project, emulator.Responder(project))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Close() })
	calls := []struct {
		name string
		call func(secret string) error
	}{
		{"get secret", func(s string) error {
			_, err := resp.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/" + project + "/secrets/" + s})
			return err
		}},
		{"list versions", func(s string) error {
			_, err := resp.Secrets.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/" + project + "/secrets/" + s}).Next()
			return err
		}},
		{"disable version", func(s string) error {
			_, err := resp.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: "projects/" + project + "/secrets/" + s + "/versions/1"})
			return err
		}},
		{"enable version", func(s string) error {
			_, err := resp.Secrets.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/" + project + "/secrets/" + s + "/versions/1"})
			return err
		}},
		{"read payload", func(s string) error {
			_, err := resp.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + project + "/secrets/" + s + "/versions/1"})
			return err
		}},
	}
	for _, c := range calls {
		for _, tt := range []struct {
			secret string
			want   codes.Code
		}{
			{managed, codes.OK},
			{"billing-token", codes.PermissionDenied},
			{managed + "-backup", codes.PermissionDenied},
		} {
			want := tt.want
			if c.name == "read payload" {
				// No coopguard identity ever reads a managed key.
				want = codes.PermissionDenied
			}
			t.Run(c.name+"/"+tt.secret, func(t *testing.T) {
				if got := status.Code(c.call(tt.secret)); got != want {
					t.Errorf("responder %s on %s: %v, want %v", c.name, tt.secret, got, want)
				}
			})
		}
	}
}

// startProject starts an emulated GCP for one test with project seeded.
func startProject(t *testing.T, project string) (*emulator.Emulator, context.Context) {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	emu.ResourceManager.SeedProject(project)
	return emu, context.Background()
}
