package emulator_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestJobSecretsAreTheManagedOnes: deployed as deploy.sh deploys them,
// each job's Secret Manager permissions hold on the managed secrets and
// their versions only (an IAM condition on resource.name), and only those
// of its job: the responder disables, the restorer re-enables, the rotator
// destroys, the reader reads metadata. Every call is refused one secret
// over, and no job reads a managed key's payload.
func TestJobSecretsAreTheManagedOnes(t *testing.T) {
	const (
		get = "get secret"
		lst = "list versions"
		dis = "disable version"
		ena = "enable version"
		des = "destroy version"
		acc = "read payload"
	)
	jobs := []struct {
		account string
		may     []string
	}{
		{config.AccountResponder, []string{lst, dis}},
		{config.AccountRestorer, []string{get, lst, ena}},
		{config.AccountReader, []string{get, lst}},
		{config.AccountRotator, []string{get, lst, dis, des}},
	}
	for _, job := range jobs {
		t.Run(job.account, func(t *testing.T) {
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
			c, err := emu.ClientsAs(ctx, project, config.AccountEmail(job.account, project))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			version := func(s string) string { return "projects/" + project + "/secrets/" + s + "/versions/1" }
			// In this order, so that each call that may succeed finds the
			// version in a state it applies to.
			calls := []struct {
				name string
				call func(secret string) error
			}{
				{get, func(s string) error {
					_, err := c.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/" + project + "/secrets/" + s})
					return err
				}},
				{lst, func(s string) error {
					_, err := c.Secrets.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/" + project + "/secrets/" + s}).Next()
					return err
				}},
				{acc, func(s string) error {
					_, err := c.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: version(s)})
					return err
				}},
				{dis, func(s string) error {
					_, err := c.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: version(s)})
					return err
				}},
				{ena, func(s string) error {
					_, err := c.Secrets.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: version(s)})
					return err
				}},
				{des, func(s string) error {
					_, err := c.Secrets.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: version(s)})
					return err
				}},
			}
			for _, call := range calls {
				for _, secret := range []string{managed, "billing-token", managed + "-backup"} {
					want := codes.PermissionDenied
					if secret == managed && slices.Contains(job.may, call.name) {
						want = codes.OK
					}
					if got := status.Code(call.call(secret)); got != want {
						t.Errorf("%s: %s on %s: %v, want %v", job.account, call.name, secret, got, want)
					}
				}
			}
		})
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

// TestDeployMakesTheSandboxAccountAndItsIdentityRoles: deployed as
// deploy.sh deploys it, the configured sandbox's account exists; the
// responder may disable it (and list and delete its keys) and the
// restorer enable it, through their identity roles bound on that account;
// no job may do either to another account, and the reader neither.
func TestDeployMakesTheSandboxAccountAndItsIdentityRoles(t *testing.T) {
	cfg := config.Demo()
	project := cfg.Cloud.GCP.Project
	emu, ctx := startProject(t, project)
	if err := emu.DeployConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	other := emu.IAMAdmin.SeedServiceAccount(project, "someone-else")
	name := func(email string) string { return "projects/" + project + "/serviceAccounts/" + email }
	as := func(account string) *adminClient {
		c, err := emu.ClientsAs(ctx, project, config.AccountEmail(account, project))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return &adminClient{c.IAMAdmin}
	}
	sb := cfg.Cloud.GCP.ServiceAccount
	if _, err := as(config.AccountResponder).GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name(sb)}); err != nil {
		t.Fatalf("the sandbox's account %s: %v", sb, err)
	}
	for _, tt := range []struct {
		account, target, verb string
		want                  codes.Code
	}{
		{config.AccountReader, sb, "disable", codes.PermissionDenied},
		{config.AccountRestorer, sb, "disable", codes.PermissionDenied},
		{config.AccountResponder, other, "disable", codes.PermissionDenied},
		{config.AccountResponder, sb, "enable", codes.PermissionDenied},
		{config.AccountResponder, sb, "disable", codes.OK},
		{config.AccountRestorer, other, "enable", codes.PermissionDenied},
		{config.AccountRestorer, sb, "enable", codes.OK},
	} {
		c := as(tt.account)
		var err error
		if tt.verb == "disable" {
			err = c.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name(tt.target)})
		} else {
			err = c.EnableServiceAccount(ctx, &adminpb.EnableServiceAccountRequest{Name: name(tt.target)})
		}
		if status.Code(err) != tt.want {
			t.Errorf("%s: %s %s = %v, want %s", tt.account, tt.verb, tt.target, err, tt.want)
		}
	}
	if _, err := as(config.AccountResponder).ListServiceAccountKeys(ctx, &adminpb.ListServiceAccountKeysRequest{Name: name(sb)}); err != nil {
		t.Errorf("the responder lists the sandbox account's keys: %v", err)
	}
}

// adminClient is the IAM admin client of one account.
type adminClient struct{ *admin.IamClient }

// TestMetadataServerRefusesTokensOfADisabledAccount: GCP refuses a
// disabled account new access tokens, so a VM running as it gets none from
// its metadata server (404, the stricter answer: what the real server
// says is not documented); enabled again, it gets one.
func TestMetadataServerRefusesTokensOfADisabledAccount(t *testing.T) {
	const project, zone = "meta-proj", "us-central1-a"
	emu, ctx := startProject(t, project)
	sa := emu.IAMAdmin.SeedServiceAccount(project, "cc-sandbox")
	emu.Compute.SeedInstance(project, zone, &computepb.Instance{Name: proto.String("vm"), Status: proto.String("RUNNING"),
		ServiceAccounts: []*computepb.ServiceAccount{{Email: proto.String(sa)}}})
	host := emu.MetadataServer(project, zone, "vm")
	token := func() int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/computeMetadata/v1/instance/service-accounts/default/token", nil)
		req.Header.Set("Metadata-Flavor", "Google")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := token(); got != http.StatusOK {
		t.Fatalf("token of the enabled account = %d, want 200", got)
	}
	name := "projects/" + project + "/serviceAccounts/" + sa
	if _, err := emu.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if got := token(); got != http.StatusNotFound {
		t.Errorf("token of the disabled account = %d, want 404 (none)", got)
	}
	if _, err := emu.IAMAdmin.EnableServiceAccount(ctx, &adminpb.EnableServiceAccountRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if got := token(); got != http.StatusOK {
		t.Errorf("token once enabled again = %d, want 200", got)
	}
}
