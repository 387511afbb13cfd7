package emulator_test

import (
	"slices"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSecretLevelAccess pins that a binding on one secret lets its member
// read that secret's versions and nothing else, and that the secret's
// TestIamPermissions answers what the caller really holds there.
func TestSecretLevelAccess(t *testing.T) {
	const project = "coopguard-demo"
	emu, ctx := startProject(t, project)
	const sandbox = "cc-sandbox@coopguard-demo.iam.gserviceaccount.com"
	emu.SecretManager.SeedSecret(project, "anthropic-api-key", []byte("sk-ONE"))
	emu.SecretManager.SeedSecret(project, "other", []byte("sk-OTHER"))
	op, err := emu.Clients(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	if _, err := op.Secrets.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + project + "/secrets/anthropic-api-key",
		Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/secretmanager.secretAccessor", Members: []string{"serviceAccount:" + sandbox}}}}}); err != nil {
		t.Fatal(err)
	}
	sb, err := emu.ClientsAs(ctx, project, sandbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	tests := []struct {
		secret string
		access codes.Code
		held   []string
	}{
		{"anthropic-api-key", codes.OK, []string{"secretmanager.versions.access"}},
		{"other", codes.PermissionDenied, nil},
	}
	for _, tt := range tests {
		t.Run(tt.secret, func(t *testing.T) {
			name := "projects/" + project + "/secrets/" + tt.secret
			_, err := sb.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name + "/versions/latest"})
			if status.Code(err) != tt.access {
				t.Errorf("AccessSecretVersion = %v, want %v", err, tt.access)
			}
			got, err := sb.Secrets.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: name,
				Permissions: []string{"secretmanager.versions.access", "secretmanager.versions.disable", "secretmanager.secrets.get"}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.GetPermissions(), tt.held) {
				t.Errorf("TestIamPermissions = %v, want %v", got.GetPermissions(), tt.held)
			}
		})
	}
}
