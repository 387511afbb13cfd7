package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/report"
)

// TestDashboardIsADashboard: deploy/dashboard.json parses as the
// Monitoring API's Dashboard (no unknown field, every enum known), its
// tiles fit the mosaic grid, and it charts what the issue asks for from
// the metrics coopguard and GCP write; deploy creates or updates it from
// that file and undeploy deletes it.
func TestDashboardIsADashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardpb.Dashboard
	if err := protojson.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/dashboard.json is not a Dashboard: %v", err)
	}
	if d.GetDisplayName() != "coopguard" {
		t.Errorf("display name %q, want coopguard (deploy finds it by that name)", d.GetDisplayName())
	}
	grid := d.GetMosaicLayout()
	if grid == nil || grid.GetColumns() < 1 || grid.GetColumns() > 48 {
		t.Fatalf("layout %v, want a mosaic of 1 to 48 columns", grid)
	}
	filters := map[string]string{} // title → filter
	for _, tile := range grid.GetTiles() {
		if tile.GetXPos() < 0 || tile.GetWidth() < 1 || tile.GetXPos()+tile.GetWidth() > grid.GetColumns() || tile.GetHeight() < 1 {
			t.Errorf("tile %q at x %d width %d does not fit %d columns", tile.GetWidget().GetTitle(), tile.GetXPos(), tile.GetWidth(), grid.GetColumns())
		}
		for _, ds := range tile.GetWidget().GetXyChart().GetDataSets() {
			filters[tile.GetWidget().GetTitle()] = ds.GetTimeSeriesQuery().GetTimeSeriesFilter().GetFilter()
		}
	}
	wants := []struct {
		title string
		in    []string
	}{
		{"Incidents by outcome and playbook", []string{`metric.type="` + report.MetricType + `"`}},
		{"Containment seconds", []string{`metric.type="` + report.MetricType + `"`}},
		{"Sandbox CPU", []string{`compute.googleapis.com/instance/cpu/utilization`, `coopguard-sandbox`}},
		{"Log sink export errors", []string{`logging.googleapis.com/exports/error_count`}},
		{"Dead-letter depth", []string{`pubsub.googleapis.com/subscription/num_undelivered_messages`, `"` + provisioner.DeadLetterSubscription + `"`}},
	}
	for _, w := range wants {
		found := false
		for title, f := range filters {
			if !strings.HasPrefix(title, w.title) {
				continue
			}
			found = true
			for _, s := range w.in {
				if !strings.Contains(f, s) {
					t.Errorf("chart %q filter %s lacks %s", title, f, s)
				}
			}
		}
		if !found {
			t.Errorf("no chart %q among %v", w.title, filters)
		}
	}

	deployed, _ := dryRun(t, "deploy.sh")
	removed, _ := dryRun(t, "undeploy.sh")
	abs, err := filepath.Abs("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"create", "update"} {
		cs := find(deployed, "gcloud", "monitoring", "dashboards", verb)
		if v, _ := flagOf(cs, "config-from-file"); len(cs) != 1 || v != abs {
			t.Errorf("deploy's dashboards %s = %v, want one from %s", verb, cs, abs)
		}
	}
	if len(find(removed, "gcloud", "monitoring", "dashboards", "delete")) != 1 {
		t.Error("undeploy keeps the dashboard")
	}
}

// flagOf is the flag's value on the first command.
func flagOf(cs []deploy.Command, name string) (string, bool) {
	if len(cs) == 0 {
		return "", false
	}
	return cs[0].Flag(name)
}
