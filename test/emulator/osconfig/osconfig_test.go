package osconfig_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	osconfigv1 "google.golang.org/api/osconfig/v1"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestCreateAssignment: through the official REST client, the operator
// creates a zonal OS policy assignment (a finished operation, stored);
// one without a rollout is 400, a duplicate 409, and the sandbox's
// account (no OS Config role) is refused, 403.
func TestCreateAssignment(t *testing.T) {
	ctx := context.Background()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	as := func(principal string) *osconfigv1.ProjectsLocationsOsPolicyAssignmentsService {
		s, err := osconfigv1.NewService(ctx, option.WithEndpoint(emu.RESTURL+"/"),
			option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: gcp.EmulatedToken(principal)})))
		if err != nil {
			t.Fatal(err)
		}
		return s.Projects.Locations.OsPolicyAssignments
	}
	const parent = "projects/osc-proj/locations/us-central1-a"
	a := func() *osconfigv1.OSPolicyAssignment {
		return &osconfigv1.OSPolicyAssignment{
			InstanceFilter: &osconfigv1.OSPolicyAssignmentInstanceFilter{All: true},
			Rollout:        &osconfigv1.OSPolicyAssignmentRollout{DisruptionBudget: &osconfigv1.FixedOrPercent{Percent: 10}, MinWaitDuration: "60s"},
			OsPolicies:     []*osconfigv1.OSPolicy{{Id: "p", Mode: "VALIDATION"}},
		}
	}
	op, err := as(emulator.Operator).Create(parent, a()).OsPolicyAssignmentId("patch-baseline").Context(ctx).Do()
	if err != nil || !op.Done {
		t.Fatalf("create = %+v, %v", op, err)
	}
	if got := emu.OSConfig.Assignments(); len(got) != 1 || got[0] != parent+"/osPolicyAssignments/patch-baseline" {
		t.Errorf("assignments = %v", got)
	}
	noRollout := a()
	noRollout.Rollout = nil
	code := func(err error) int {
		var g *googleapi.Error
		if errors.As(err, &g) {
			return g.Code
		}
		return 0
	}
	for name, tc := range map[string]struct {
		principal, id string
		body          *osconfigv1.OSPolicyAssignment
		want          int
	}{
		"no rollout":            {emulator.Operator, "other", noRollout, http.StatusBadRequest},
		"duplicate":             {emulator.Operator, "patch-baseline", a(), http.StatusConflict},
		"the sandbox's account": {"cc-sandbox@osc-proj.iam.gserviceaccount.com", "stratus", a(), http.StatusForbidden},
	} {
		_, err := as(tc.principal).Create(parent, tc.body).OsPolicyAssignmentId(tc.id).Context(ctx).Do()
		if got := code(err); got != tc.want {
			t.Errorf("%s: %v, want %d", name, err, tc.want)
		}
	}
}
