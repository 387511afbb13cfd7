package iamadmin_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"regexp"
	"testing"
	"time"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"github.com/cloudcoop/coopguard/test/emulator/iamadmin"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func start(t *testing.T) (*iamadmin.Server, *admin.IamClient) {
	t.Helper()
	fake := iamadmin.New(func() time.Time { return t0 })
	return fake, grpctest.Client(t, grpctest.Serve(t, fake.Register), admin.NewIamClient)
}

func TestServiceAccounts(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	creates := []struct {
		name, parent, id string
		want             codes.Code
	}{
		{"ok", "projects/coopguard-demo", "agent-helper", codes.OK},
		{"second", "projects/coopguard-demo", "another-one", codes.OK},
		{"other project", "projects/elsewhere", "agent-helper", codes.OK},
		{"duplicate", "projects/coopguard-demo", "agent-helper", codes.AlreadyExists},
		{"too short", "projects/coopguard-demo", "abc", codes.InvalidArgument},
		{"uppercase", "projects/coopguard-demo", "Agent-Helper", codes.InvalidArgument},
		{"trailing hyphen", "projects/coopguard-demo", "agent-helper-", codes.InvalidArgument},
		{"wildcard project", "projects/-", "agent-helper", codes.InvalidArgument},
	}
	for _, tt := range creates {
		t.Run("create "+tt.name, func(t *testing.T) {
			sa, err := c.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{Name: tt.parent, AccountId: tt.id, ServiceAccount: &adminpb.ServiceAccount{DisplayName: "helper"}})
			grpctest.WantCode(t, err, tt.want)
			if err != nil {
				return
			}
			project := tt.parent[len("projects/"):]
			email := tt.id + "@" + project + ".iam.gserviceaccount.com"
			if sa.Email != email || sa.Name != tt.parent+"/serviceAccounts/"+email || sa.ProjectId != project || sa.DisplayName != "helper" {
				t.Errorf("account = %v", sa)
			}
			if !regexp.MustCompile(`^[0-9]{21}$`).MatchString(sa.UniqueId) || sa.Oauth2ClientId != sa.UniqueId {
				t.Errorf("unique id %q / client id %q, want 21 digits, equal", sa.UniqueId, sa.Oauth2ClientId)
			}
		})
	}

	email := "agent-helper@coopguard-demo.iam.gserviceaccount.com"
	created, err := c.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: "projects/coopguard-demo/serviceAccounts/" + email})
	if err != nil {
		t.Fatal(err)
	}
	gets := []struct {
		name, resource string
		want           codes.Code
	}{
		{"by email", "projects/coopguard-demo/serviceAccounts/" + email, codes.OK},
		{"by unique id", "projects/coopguard-demo/serviceAccounts/" + created.UniqueId, codes.OK},
		{"any project", "projects/-/serviceAccounts/" + email, codes.OK},
		{"wrong project", "projects/elsewhere/serviceAccounts/" + email, codes.NotFound},
		{"missing", "projects/coopguard-demo/serviceAccounts/nobody@coopguard-demo.iam.gserviceaccount.com", codes.NotFound},
		{"malformed", "serviceAccounts/" + email, codes.InvalidArgument},
	}
	for _, tt := range gets {
		t.Run("get "+tt.name, func(t *testing.T) {
			sa, err := c.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: tt.resource})
			grpctest.WantCode(t, err, tt.want)
			if err == nil && sa.Email != email {
				t.Errorf("got %s, want %s", sa.Email, email)
			}
		})
	}

	t.Run("list pages, one project only", func(t *testing.T) {
		it := c.ListServiceAccounts(ctx, &adminpb.ListServiceAccountsRequest{Name: "projects/coopguard-demo", PageSize: 1})
		var emails []string
		for {
			sa, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			emails = append(emails, sa.Email)
		}
		want := []string{"agent-helper@coopguard-demo.iam.gserviceaccount.com", "another-one@coopguard-demo.iam.gserviceaccount.com"}
		if len(emails) != 2 || emails[0] != want[0] || emails[1] != want[1] {
			t.Errorf("accounts = %v, want %v", emails, want)
		}
	})
}

func TestServiceAccountKeys(t *testing.T) {
	fake, c := start(t)
	ctx := context.Background()
	email := fake.SeedServiceAccount("coopguard-demo", "cc-sandbox")
	name := "projects/coopguard-demo/serviceAccounts/" + email

	key, err := c.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `/keys/[0-9a-f]{40}$`).MatchString(key.Name) {
		t.Errorf("key name = %s", key.Name)
	}
	if key.KeyType != adminpb.ListServiceAccountKeysRequest_USER_MANAGED || key.KeyAlgorithm != adminpb.ServiceAccountKeyAlgorithm_KEY_ALG_RSA_2048 ||
		key.PrivateKeyType != adminpb.ServiceAccountPrivateKeyType_TYPE_GOOGLE_CREDENTIALS_FILE || !key.ValidAfterTime.AsTime().Equal(t0) {
		t.Errorf("key = %v", key)
	}
	var file map[string]string
	if err := json.Unmarshal(key.PrivateKeyData, &file); err != nil {
		t.Fatalf("private_key_data is not a credentials file: %v", err)
	}
	block, _ := pem.Decode([]byte(file["private_key"]))
	if file["type"] != "service_account" || file["client_email"] != email || key.Name[len(key.Name)-40:] != file["private_key_id"] || block == nil {
		t.Fatalf("credentials file: type %q email %q key id %q pem %v", file["type"], file["client_email"], file["private_key_id"], block != nil)
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Errorf("private key does not parse: %v", err)
	}

	tests := []struct {
		name  string
		req   *adminpb.ListServiceAccountKeysRequest
		want  int
		code  codes.Code
		check bool
	}{
		{"all", &adminpb.ListServiceAccountKeysRequest{Name: name}, 1, codes.OK, true},
		{"user managed", &adminpb.ListServiceAccountKeysRequest{Name: name, KeyTypes: []adminpb.ListServiceAccountKeysRequest_KeyType{adminpb.ListServiceAccountKeysRequest_USER_MANAGED}}, 1, codes.OK, true},
		{"system managed only", &adminpb.ListServiceAccountKeysRequest{Name: name, KeyTypes: []adminpb.ListServiceAccountKeysRequest_KeyType{adminpb.ListServiceAccountKeysRequest_SYSTEM_MANAGED}}, 0, codes.OK, false},
		{"missing account", &adminpb.ListServiceAccountKeysRequest{Name: "projects/coopguard-demo/serviceAccounts/x@coopguard-demo.iam.gserviceaccount.com"}, 0, codes.NotFound, false},
	}
	for _, tt := range tests {
		t.Run("list "+tt.name, func(t *testing.T) {
			resp, err := c.ListServiceAccountKeys(ctx, tt.req)
			grpctest.WantCode(t, err, tt.code)
			if len(resp.GetKeys()) != tt.want {
				t.Fatalf("keys = %v, want %d", resp.GetKeys(), tt.want)
			}
			if tt.check && (resp.Keys[0].Name != key.Name || len(resp.Keys[0].PrivateKeyData) != 0) {
				t.Errorf("listed key = %v, want %s without private key data", resp.Keys[0], key.Name)
			}
		})
	}

	if len(fake.Keys(email)) != 1 || len(fake.Keys(email)[0].PrivateKeyData) != 0 {
		t.Error("the fake kept private key data")
	}
	deletes := []struct {
		name, key string
		want      codes.Code
	}{
		{"delete", key.Name, codes.OK},
		{"again", key.Name, codes.NotFound},
		{"malformed", name, codes.InvalidArgument},
	}
	for _, tt := range deletes {
		t.Run(tt.name, func(t *testing.T) {
			grpctest.WantCode(t, c.DeleteServiceAccountKey(ctx, &adminpb.DeleteServiceAccountKeyRequest{Name: tt.key}), tt.want)
		})
	}
	if n := len(fake.Keys(email)); n != 0 {
		t.Errorf("%d keys left, want 0", n)
	}
	_, err = c.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: name, PrivateKeyType: adminpb.ServiceAccountPrivateKeyType_TYPE_PKCS12_FILE})
	grpctest.WantCode(t, err, codes.InvalidArgument)
}

// TestDisableEnable: disable and enable set the account's disabled field,
// by email or unique id, with "-" for the project; repeating either
// changes nothing; an unknown account is NOT_FOUND.
func TestDisableEnable(t *testing.T) {
	fake, c := start(t)
	ctx := context.Background()
	email := fake.SeedServiceAccount("coopguard-demo", "cc-sandbox")
	sa, err := c.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: "projects/-/serviceAccounts/" + email})
	if err != nil || sa.Disabled || fake.Disabled(email) {
		t.Fatalf("new account = %v, %v; want enabled", sa, err)
	}
	for _, name := range []string{"projects/coopguard-demo/serviceAccounts/" + email, "projects/-/serviceAccounts/" + sa.UniqueId} {
		if err := c.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); err != nil {
			t.Fatalf("disable %s: %v", name, err)
		}
		if got, _ := c.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name}); !got.GetDisabled() || !fake.Disabled(email) {
			t.Errorf("after disable %s: disabled = %v", name, got.GetDisabled())
		}
	}
	for range 2 {
		if err := c.EnableServiceAccount(ctx, &adminpb.EnableServiceAccountRequest{Name: "projects/-/serviceAccounts/" + email}); err != nil {
			t.Fatal(err)
		}
	}
	if fake.Disabled(email) {
		t.Error("still disabled after enable")
	}
	err = c.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: "projects/coopguard-demo/serviceAccounts/nobody-here@coopguard-demo.iam.gserviceaccount.com"})
	grpctest.WantCode(t, err, codes.NotFound)
	if fake.Disabled("nobody-here@coopguard-demo.iam.gserviceaccount.com") {
		t.Error("an unknown account reads as disabled")
	}
}

// TestServiceAccountEtag: an account is answered with an etag, the same
// from create, get and list while it does not change, and another once it
// does (Config Connector's recorded create and get carry one).
func TestServiceAccountEtag(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	//lint:ignore SA1019 deprecated in the proto, yet real answers carry it
	etag := func(sa *adminpb.ServiceAccount) string { return string(sa.GetEtag()) }
	sa, err := c.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{Name: "projects/coopguard-demo", AccountId: "agent-helper"})
	if err != nil {
		t.Fatal(err)
	}
	if len(etag(sa)) == 0 {
		t.Fatalf("created account %v has no etag", sa)
	}
	got, err := c.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: sa.GetName()})
	if err != nil || etag(got) != etag(sa) {
		t.Errorf("get = %v, %v; want the create's etag %x", got, err, etag(sa))
	}
	listed, err := c.ListServiceAccounts(ctx, &adminpb.ListServiceAccountsRequest{Name: "projects/coopguard-demo"}).Next()
	if err != nil || etag(listed) != etag(sa) {
		t.Errorf("list = %v, %v; want the create's etag %x", listed, err, etag(sa))
	}
	if err := c.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: sa.GetName()}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: sa.GetName()}); err != nil || len(etag(got)) == 0 || etag(got) == etag(sa) {
		t.Errorf("after disable get = %v, %v; want a new etag", got, err)
	}
}
