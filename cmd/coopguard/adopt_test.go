package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestAdoptPrintsGapsAndWatcherInstall: an adoption's output names its
// network, every gap with its fix, and the watcher's one-line install; a
// built sandbox's report prints none of it.
func TestAdoptPrintsGapsAndWatcherInstall(t *testing.T) {
	rep := &provisioner.Report{Project: "p", Sandbox: "claude-sandbox", Adopted: "default",
		Gaps:           []provisioner.Gap{{What: "has an external IP", Fix: "gcloud compute instances delete-access-config claude-sandbox"}},
		WatcherInstall: "gcloud compute ssh claude-sandbox --tunnel-through-iap"}
	var out bytes.Buffer
	printAdoption(&out, rep)
	for _, want := range []string{"network default", "without a restart", "has an external IP", "fix: gcloud compute instances delete-access-config", "--tunnel-through-iap"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("adopt output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printAdoption(&out, &provisioner.Report{Project: "p", Sandbox: "s"})
	if out.Len() != 0 {
		t.Errorf("a built sandbox printed adoption lines: %q", out.String())
	}
}

// TestAdoptNameAndAllExclude: --name with --all is a usage error.
func TestAdoptNameAndAllExclude(t *testing.T) {
	err := runAdopt(context.Background(), []string{"--name", "x", "--all"}, io.Discard)
	if !errors.Is(err, errUsage) {
		t.Errorf("adopt --name x --all = %v, want a usage error", err)
	}
}

// TestAdoptAllStreamsThroughServer: `coopguard adopt --all` against a
// server reads the same ndjson stream as provision: each resource is
// printed as it finishes, then each adopted VM's report and gaps.
func TestAdoptAllStreamsThroughServer(t *testing.T) {
	t.Parallel()
	f := fixture.NewFunctions(t)
	ctx := context.Background()
	g := f.Cfg.Cloud.GCP
	if err := f.Emu.Compute.CreateDefaultNetwork(g.Project); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(f.Operator.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: g.Project, FirewallResource: compute.CloudcoopIAPRule()})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(f.Operator.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: g.Project, Zone: g.Zone,
		InstanceResource: compute.CloudcoopInstance(g.Zone, f.Cfg.VM.Name, g.ServiceAccount)})); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runAdopt(ctx, []string{"--all", "--server", f.Serve(t)}, &out); err != nil {
		t.Fatalf("adopt --all: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"  done     ", "sandbox " + f.Cfg.VM.Name + " in project " + g.Project, "adopted on network default", "fix: "} {
		if !strings.Contains(got, want) {
			t.Errorf("adopt --all printed no %q:\n%s", want, got)
		}
	}
}
