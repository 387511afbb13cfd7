package wif_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestPoolsAndProviders: through the official REST client, the operator
// creates a pool and an X.509 provider in it (finished operations, the
// pool ACTIVE), both audited as Admin Activity under iam.googleapis.com
// (google.iam.admin.v1.CreateWorkloadIdentityPool / …Provider); a
// duplicate is 409, a gcp- id 400, a provider in no pool 404; the
// sandbox's account is refused (403, its entry status 7).
func TestPoolsAndProviders(t *testing.T) {
	ctx := context.Background()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	var mu sync.Mutex
	var entries []*auditpb.AuditLog
	emu.Gate.Write = func(_ context.Context, e *loggingpb.LogEntry) {
		var a auditpb.AuditLog
		if e.GetProtoPayload().UnmarshalTo(&a) == nil {
			mu.Lock()
			entries = append(entries, &a)
			mu.Unlock()
		}
	}
	as := func(principal string) *iamv1.Service {
		s, err := iamv1.NewService(ctx, option.WithEndpoint(emu.RESTURL+"/"),
			option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: gcp.EmulatedToken(principal)})))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const loc = "projects/wif-proj/locations/global"
	pools := as(emulator.Operator).Projects.Locations.WorkloadIdentityPools
	op, err := pools.Create(loc, &iamv1.WorkloadIdentityPool{DisplayName: "ci"}).WorkloadIdentityPoolId("team-ci").Context(ctx).Do()
	if err != nil || !op.Done {
		t.Fatalf("create pool = %+v, %v", op, err)
	}
	pool, err := pools.Get(loc + "/workloadIdentityPools/team-ci").Context(ctx).Do()
	if err != nil || pool.State != "ACTIVE" || pool.DisplayName != "ci" {
		t.Errorf("get pool = %+v, %v; want it ACTIVE", pool, err)
	}
	prov := &iamv1.WorkloadIdentityPoolProvider{AttributeMapping: map[string]string{"google.subject": "assertion.subject.dn.cn"},
		X509: &iamv1.X509{TrustStore: &iamv1.TrustStore{TrustAnchors: []*iamv1.TrustAnchor{{PemCertificate: "-----BEGIN CERTIFICATE-----"}}}}}
	if op, err := pools.Providers.Create(loc+"/workloadIdentityPools/team-ci", prov).WorkloadIdentityPoolProviderId("team-ca").Context(ctx).Do(); err != nil || !op.Done {
		t.Errorf("create provider = %+v, %v", op, err)
	}
	code := func(err error) int {
		var g *googleapi.Error
		if errors.As(err, &g) {
			return g.Code
		}
		return 0
	}
	for name, tc := range map[string]struct {
		err  error
		want int
	}{
		"duplicate pool": {func() error {
			_, err := pools.Create(loc, &iamv1.WorkloadIdentityPool{}).WorkloadIdentityPoolId("team-ci").Do()
			return err
		}(), http.StatusConflict},
		"reserved id": {func() error {
			_, err := pools.Create(loc, &iamv1.WorkloadIdentityPool{}).WorkloadIdentityPoolId("gcp-x").Do()
			return err
		}(), http.StatusBadRequest},
		"provider, no pool": {func() error {
			_, err := pools.Providers.Create(loc+"/workloadIdentityPools/none", prov).WorkloadIdentityPoolProviderId("abcd").Do()
			return err
		}(), http.StatusNotFound},
		"the sandbox's account": {func() error {
			_, err := as("cc-sandbox@wif-proj.iam.gserviceaccount.com").Projects.Locations.WorkloadIdentityPools.Create(loc, &iamv1.WorkloadIdentityPool{}).WorkloadIdentityPoolId("stratus").Do()
			return err
		}(), http.StatusForbidden},
	} {
		if got := code(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %d", name, tc.err, tc.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]bool{
		"google.iam.admin.v1.CreateWorkloadIdentityPool " + loc + "/workloadIdentityPools/team-ci 0":                           false,
		"google.iam.admin.v1.CreateWorkloadIdentityPoolProvider " + loc + "/workloadIdentityPools/team-ci/providers/team-ca 0": false,
		"google.iam.admin.v1.CreateWorkloadIdentityPool " + loc + "/workloadIdentityPools/stratus 7":                           false,
	}
	for _, a := range entries {
		k := a.GetMethodName() + " " + a.GetResourceName() + " " + map[bool]string{true: "0", false: "7"}[a.GetStatus().GetCode() == 0]
		if _, ok := want[k]; ok && a.GetServiceName() == "iam.googleapis.com" {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no audit entry %s", k)
		}
	}
}
