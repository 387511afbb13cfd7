package iamcredentials_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

const project = "creds-proj"

// TestGenerateAccessToken: a principal allowed getAccessToken on an
// account gets a token that acts as the account, valid for at most an
// hour; one who is not is refused, and both calls are written to the Data
// Access log as ADMIN_READ when the audit config turns it on.
func TestGenerateAccessToken(t *testing.T) {
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	var entries []*loggingpb.LogEntry
	emu.Gate.Write = func(_ context.Context, e *loggingpb.LogEntry) { entries = append(entries, e) }
	emu.ResourceManager.SetPolicy(project, &iampb.Policy{
		Bindings:     []*iampb.Binding{{Role: "roles/owner", Members: []string{"user:" + emulator.Operator}}},
		AuditConfigs: []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_ADMIN_READ}}}},
	})
	target := emu.IAMAdmin.SeedServiceAccount(project, "worker")
	ctx := context.Background()
	dial := func(principal string) *credentials.IamCredentialsClient {
		c, err := credentials.NewIamCredentialsClient(ctx, append(gcp.EmulatedGRPC(emu.GRPCAddr), gcp.EmulatedIdentity(principal))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	name := "projects/-/serviceAccounts/" + target
	req := &credentialspb.GenerateAccessTokenRequest{Name: name, Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}}
	tok, err := dial(emulator.Operator).GenerateAccessToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := iam.PrincipalFromAuthorization("Bearer " + tok.GetAccessToken()); !ok || got != target {
		t.Errorf("token %q acts as %q, want %s", tok.GetAccessToken(), got, target)
	}
	if minter, ok := iam.MinterFromAuthorization("Bearer " + tok.GetAccessToken()); !ok || minter != emulator.Operator {
		t.Errorf("token %q was minted by %q, want %s", tok.GetAccessToken(), minter, emulator.Operator)
	}
	// The emulator's clock runs on between the call and this look.
	if exp := tok.GetExpireTime().AsTime().Sub(emu.Clock.Now()); exp > time.Hour || exp < time.Hour-time.Minute {
		t.Errorf("token expires in %s, want 1h", exp)
	}
	if _, err := dial(emulator.Operator).GenerateAccessToken(ctx, &credentialspb.GenerateAccessTokenRequest{Name: name, Scope: req.Scope, Lifetime: durationpb.New(2 * time.Hour)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a 2h token = %v, want InvalidArgument", err)
	}
	if _, err := dial("someone@example.com").GenerateAccessToken(ctx, req); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GenerateAccessToken without the permission = %v, want PermissionDenied", err)
	}
	if _, err := dial(emulator.Operator).SignJwt(ctx, &credentialspb.SignJwtRequest{Name: name, Payload: `{"sub":"x"}`}); err != nil {
		t.Errorf("SignJwt: %v", err)
	}
	var got []string
	for _, e := range entries {
		var a auditpb.AuditLog
		if e.GetProtoPayload().UnmarshalTo(&a) != nil || a.GetServiceName() != "iamcredentials.googleapis.com" {
			continue
		}
		if !strings.HasSuffix(e.GetLogName(), "cloudaudit.googleapis.com%2Fdata_access") || !strings.HasSuffix(a.GetResourceName(), target) {
			t.Errorf("entry %s %s in %s, want the data_access log naming %s", a.GetMethodName(), a.GetResourceName(), e.GetLogName(), target)
		}
		got = append(got, a.GetMethodName()+"/"+a.GetAuthenticationInfo().GetPrincipalEmail()+"/"+status.Code(status.ErrorProto(a.GetStatus())).String())
	}
	want := "GenerateAccessToken/" + emulator.Operator + "/OK GenerateAccessToken/" + emulator.Operator + "/InvalidArgument GenerateAccessToken/someone@example.com/PermissionDenied SignJwt/" + emulator.Operator + "/OK"
	if strings.Join(got, " ") != want {
		t.Errorf("audit entries = %v, want %s", got, want)
	}
}
