package secretmanager_test

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// TestNamesByProjectNumber pins that the service names every secret and
// version by project number, whichever form the request used, and that
// the id and the number reach the same resources.
func TestNamesByProjectNumber(t *testing.T) {
	fake, c, _ := start(t)
	ctx := context.Background()
	const id = "coopguard-demo"
	num := fmt.Sprint(resourcemanager.ProjectNumber(id))
	secret := "projects/" + num + "/secrets/k"
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/" + id, SecretId: "k", Secret: &secretmanagerpb.Secret{Replication: automatic()}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/" + num, SecretId: "k", Secret: &secretmanagerpb.Secret{Replication: automatic()}})
	wantCode(t, err, codes.AlreadyExists)

	for _, project := range []string{id, num} {
		t.Run("by "+project, func(t *testing.T) {
			parent := "projects/" + project + "/secrets/k"
			calls := []struct {
				name string
				call func() (string, error)
				want string
			}{
				{"GetSecret", func() (string, error) {
					s, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: parent})
					return s.GetName(), err
				}, secret},
				{"ListSecrets", func() (string, error) {
					s, err := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/" + project}).Next()
					return s.GetName(), err
				}, secret},
				{"UpdateSecret", func() (string, error) {
					s, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{Secret: &secretmanagerpb.Secret{Name: parent, Labels: map[string]string{"by": project}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}})
					return s.GetName(), err
				}, secret},
				{"AddSecretVersion", func() (string, error) {
					v, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent, Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")}})
					return v.GetName(), err
				}, ""},
				{"GetSecretVersion latest", func() (string, error) {
					v, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: parent + "/versions/latest"})
					return v.GetName(), err
				}, ""},
				{"AccessSecretVersion latest", func() (string, error) {
					v, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: parent + "/versions/latest"})
					return v.GetName(), err
				}, ""},
				{"ListSecretVersions", func() (string, error) {
					v, err := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: parent}).Next()
					return v.GetName(), err
				}, ""},
				{"DisableSecretVersion", func() (string, error) {
					v, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: parent + "/versions/latest"})
					return v.GetName(), err
				}, ""},
				{"EnableSecretVersion", func() (string, error) {
					v, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: parent + "/versions/latest"})
					return v.GetName(), err
				}, ""},
			}
			// Each run adds one version; the version calls name the newest.
			n := len(fake.Versions(secret)) + 1
			for _, tt := range calls {
				want := tt.want
				if want == "" {
					want = fmt.Sprintf("%s/versions/%d", secret, n)
				}
				got, err := tt.call()
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if got != want {
					t.Errorf("%s named %q, want %q", tt.name, got, want)
				}
			}
		})
	}

	t.Run("helpers take either form", func(t *testing.T) {
		if _, ok := fake.Secret("projects/" + id + "/secrets/k"); !ok {
			t.Error("Secret by id: not found")
		}
		if got := len(fake.Versions("projects/" + id + "/secrets/k")); got != 2 {
			t.Errorf("Versions by id = %d versions, want 2", got)
		}
		if got := len(fake.Versions(secret)); got != 2 {
			t.Errorf("Versions by number = %d versions, want 2", got)
		}
	})

	t.Run("another project's number is another project", func(t *testing.T) {
		_, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/123456789012/secrets/k"})
		wantCode(t, err, codes.NotFound)
	})
}
