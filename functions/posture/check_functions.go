package posture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// publicMembers are the principals that make a service callable by anyone.
var publicMembers = []string{"allUsers", "allAuthenticatedUsers"}

// functionsAuthenticated: each of coopguard's functions is deployed (as a
// Cloud Run service in in.Region) and requires authentication: its IAM
// policy grants nothing to allUsers or allAuthenticatedUsers, and the
// invoker IAM check is not disabled. A public Provision or Status would let
// anyone rebuild the sandbox or read its state.
type functionsAuthenticated struct{}

func (functionsAuthenticated) Name() string { return "functions-authenticated" }

func (functionsAuthenticated) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	parent := "projects/" + in.Project() + "/locations/" + in.Region
	deployed := map[string]*runpb.Service{}
	it := c.Services.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent})
	for {
		svc, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return readError(fmt.Errorf("list Cloud Run services in %s: %w", parent, err), "run.services.list")
		}
		deployed[lastSegment(svc.GetName())] = svc
	}
	var ok, bad, fixes []string
	for _, name := range in.Services {
		svc, found := deployed[name]
		if !found {
			bad = append(bad, name+" not deployed in "+in.Region)
			fixes = append(fixes, fmt.Sprintf("deploy coopguard: make deploy PROJECT=%s REGION=%s", in.Project(), in.Region))
			continue
		}
		if svc.GetInvokerIamDisabled() {
			bad = append(bad, name+" has the invoker IAM check disabled (anyone can call it)")
			fixes = append(fixes, fmt.Sprintf("gcloud run services update %s --region %s --project %s --invoker-iam-check", name, in.Region, in.Project()))
		}
		pol, err := c.Services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: svc.GetName(), Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
		if err != nil {
			return readError(fmt.Errorf("read IAM policy of Cloud Run service %s: %w", svc.GetName(), err), "run.services.getIamPolicy")
		}
		public := false
		for _, b := range pol.GetBindings() {
			for _, m := range b.GetMembers() {
				if slices.Contains(publicMembers, m) {
					public = true
					bad = append(bad, fmt.Sprintf("%s grants %s to %s", name, b.GetRole(), m))
					fixes = append(fixes, fmt.Sprintf("gcloud run services remove-iam-policy-binding %s --region %s --project %s --member %s --role %s", name, in.Region, in.Project(), m, b.GetRole()))
				}
			}
		}
		if !public && !svc.GetInvokerIamDisabled() {
			ok = append(ok, name)
		}
	}
	if len(bad) > 0 {
		return fail(strings.Join(bad, "; "), strings.Join(slices.Compact(fixes), " && "))
	}
	return pass("%s in %s: deployed, authentication required (no allUsers/allAuthenticatedUsers)", strings.Join(ok, ", "), in.Region)
}
