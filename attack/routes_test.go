package attack

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestRouteDrills: each route drill, the role drill and the renamed
// disk-copy drill are decided by the rule the coverage table names (the
// trigger of their last incident; the copy's making notifies first);
// after someone else deleted coopguard's egress route, the next converge
// puts it back.
func TestRouteDrills(t *testing.T) {
	for _, tc := range []struct {
		drill, trigger string
		incidents      int
	}{
		{"sandbox-egress-route-deleted", detect.RuleDefenceChanged, 1},
		{"egress-route-delete", detect.RuleSandboxSADenied, 1},
		{"route-hijack", detect.RuleSandboxSADenied, 1},
		{"coopguard-role-weakened", detect.RuleSandboxSurroundingsChanged, 1},
		{"sandbox-disk-copy-shared", detect.RuleSandboxHandedPower, 2},
	} {
		t.Run(tc.drill, func(t *testing.T) {
			t.Parallel()
			logs := &fixture.Buffer{}
			ctx, cancel := drillContext(t)
			defer cancel()
			w, err := Start(ctx, Options{Log: logs})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			s, err := Find(tc.drill)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(ctx, w, s, RunOptions{})
			var out bytes.Buffer
			if r != nil {
				r.Print(&out)
			}
			if err != nil || !r.Passed() {
				t.Fatalf("%v\n%s\nfunctions' log:\n%s", err, out.String(), logs)
			}
			var triggers []string
			for _, rep := range r.Incidents {
				triggers = append(triggers, rep.Incident.Trigger)
			}
			if len(triggers) != tc.incidents || !slices.Contains(triggers, tc.trigger) {
				t.Fatalf("incidents triggered by %v, want %d, one by %s\n%s", triggers, tc.incidents, tc.trigger, out.String())
			}
			if !strings.HasSuffix(tc.drill, "route-deleted") {
				return
			}
			p := w.Cfg.Cloud.GCP.Project
			if _, err := w.Operator.Routes.Get(ctx, &computepb.GetRouteRequest{Project: p, Route: w.Sandbox.EgressRoute()}); !retry.IsNotFound(err) {
				t.Fatalf("route %s after the drill: %v, want it deleted", w.Sandbox.EgressRoute(), err)
			}
			if _, err := w.Env.Provisioner.Converge(ctx, provisioner.Options{}); err != nil {
				t.Fatal(err)
			}
			rt, err := w.Operator.Routes.Get(ctx, &computepb.GetRouteRequest{Project: p, Route: w.Sandbox.EgressRoute()})
			if err != nil || !provisioner.IsEgressRoute(rt, p, "projects/"+p+"/global/networks/"+w.Sandbox.Network()) {
				t.Errorf("route %s after a converge = %v, %v; want it back", w.Sandbox.EgressRoute(), rt, err)
			}
		})
	}
}
