package attack

import (
	"context"
	"fmt"
	"strconv"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/apiv1/iampb"
	"golang.org/x/oauth2"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// wifScenarios are Stratus's Workload Identity Federation backdoor,
// aimed at the sandbox's account, and its benign counterpart.
func wifScenarios() []Scenario {
	return []Scenario{
		{Name: "gcp.persistence.create-workload-identity-federation", Kind: Attack, Actor: actorOther, Counterpart: "operator-team-wif",
			Summary: "creates a workload identity pool with an X.509 provider trusting its own CA and lets the pool's identities act as the sandbox's account: CreateWorkloadIdentityPool, …Provider, SetIamPolicy roles/iam.workloadIdentityUser (allowed)",
			Act: func(ctx context.Context, w *World) error {
				res, err := w.sandboxAccountName()
				if err != nil {
					return err
				}
				return w.federate(ctx, "stratus-red-team-wif", res)
			}},
		{Name: "operator-team-wif", Kind: Benign, Actor: actorOperator, Counterpart: "gcp.persistence.create-workload-identity-federation",
			Summary: "federates the team's CI with the team's own deploy account (not the sandbox's): CreateWorkloadIdentityPool, …Provider, SetIamPolicy",
			Setup: func(_ context.Context, w *World) error {
				w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, "team-deployer")
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				return w.federate(ctx, "team-ci", audit.ServiceAccountResource("team-deployer@"+w.Cfg.Cloud.GCP.Project+".iam.gserviceaccount.com"))
			}},
	}
}

// federate is the operator creating pool with an X.509 provider and
// granting the pool's identities roles/iam.workloadIdentityUser on the
// service account named account, through the official IAM REST client
// and the IAM admin client.
func (w *World) federate(ctx context.Context, pool, account string) error {
	svc, err := iamv1.NewService(ctx, option.WithEndpoint(w.Emu.RESTURL+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: gcp.EmulatedToken(w.principal(actorOperator))})))
	if err != nil {
		return fmt.Errorf("dial the emulated IAM API: %w", err)
	}
	loc := "projects/" + w.Cfg.Cloud.GCP.Project + "/locations/global"
	pools := svc.Projects.Locations.WorkloadIdentityPools
	if _, err := pools.Create(loc, &iamv1.WorkloadIdentityPool{DisplayName: pool}).WorkloadIdentityPoolId(pool).Context(ctx).Do(); err != nil {
		return allowed(err, "CreateWorkloadIdentityPool "+pool)
	}
	prov := &iamv1.WorkloadIdentityPoolProvider{AttributeMapping: map[string]string{"google.subject": "assertion.subject.dn.cn"},
		X509: &iamv1.X509{TrustStore: &iamv1.TrustStore{TrustAnchors: []*iamv1.TrustAnchor{{PemCertificate: "-----BEGIN CERTIFICATE-----\ndrill\n-----END CERTIFICATE-----"}}}}}
	if _, err := pools.Providers.Create(loc+"/workloadIdentityPools/"+pool, prov).WorkloadIdentityPoolProviderId(pool + "-ca").Context(ctx).Do(); err != nil {
		return allowed(err, "CreateWorkloadIdentityPoolProvider "+pool+"-ca")
	}
	pol, err := w.Operator.IAMAdmin.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: account})
	if err != nil {
		return allowed(err, "GetIamPolicy on "+account)
	}
	number := strconv.FormatInt(resourcemanager.ProjectNumber(w.Cfg.Cloud.GCP.Project), 10)
	pol.Add("principalSet://iam.googleapis.com/projects/"+number+"/locations/global/workloadIdentityPools/"+pool+"/*", "roles/iam.workloadIdentityUser")
	_, err = w.Operator.IAMAdmin.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: account, Policy: pol})
	return allowed(err, "SetIamPolicy on "+account)
}
