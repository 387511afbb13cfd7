package functions

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/store"
)

// TestKeyReadWhileVMOffReadsTheRecordedZone: a sandbox's account reading
// its key while its VM is off is caught for a sandbox the registry
// records in a project of its own and in another zone than the
// configured one: the VM's state is read where the registry says the VM
// is (in the configured zone there is no such VM, and the rule could not
// tell).
func TestKeyReadWhileVMOffReadsTheRecordedZone(t *testing.T) {
	w := newFleetWorld(t)
	ctx := context.Background()
	const project, zone, name = "sandbox-proj-vz", "us-east1-c", "box-vz"
	sb, err := provisioner.SandboxIn(w.cfg, project, name, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.RegisterSandbox(ctx, store.Registered{Project: project, Zone: zone, Name: name, ServiceAccount: sb.ServiceAccount,
		Network: sb.Network(), Secrets: sb.Secrets, Canary: sb.Canary, InstanceID: "6060"}); err != nil {
		t.Fatal(err)
	}
	// The Spot VM was preempted before the read (the sample's time).
	w.emu.Clock.Set(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	w.emu.Compute.SeedInstance(project, zone, &computepb.Instance{Name: proto.String(name), Labels: map[string]string{config.SandboxLabel: name},
		Scheduling: &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), InstanceTerminationAction: proto.String("STOP")}})
	if _, err := w.emu.Compute.Preempt(project, zone, name); err != nil {
		t.Fatal(err)
	}
	read := sample(t, "logentry-secret-access-unknown-principal.json", project,
		"someone@example.com", sb.ServiceAccount, "/secrets/anthropic-api-key/", "/secrets/"+sb.Secrets[0]+"/")
	rules, id, err := decideEntry(ctx, w.env, read)
	if err != nil || id != "6060" || !slices.Contains(rules, detect.RuleSandboxKeyReadVMOff) {
		t.Errorf("%s's account reads its key while its VM in %s is TERMINATED: rules %v on %q (%v); want %s on 6060",
			name, zone, rules, id, err, detect.RuleSandboxKeyReadVMOff)
	}
}

// TestPostureOfASandboxInAnotherZone: posture of a sandbox the registry
// records in another zone than the configured one checks its VM there.
func TestPostureOfASandboxInAnotherZone(t *testing.T) {
	w := newFleetWorld(t)
	ctx := context.Background()
	const project, zone, name = "sandbox-proj-pz", "us-east1-c", "box-pz"
	sb, err := provisioner.SandboxIn(w.cfg, project, name, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.RegisterSandbox(ctx, store.Registered{Project: project, Zone: zone, Name: name, ServiceAccount: sb.ServiceAccount,
		Network: sb.Network(), Secrets: sb.Secrets, Canary: sb.Canary, InstanceID: "6161"}); err != nil {
		t.Fatal(err)
	}
	w.emu.Compute.SeedInstance(project, zone, &computepb.Instance{Name: proto.String(name), Labels: map[string]string{config.SandboxLabel: name}})
	rep, err := PostureOf(ctx, w.env, project, name)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Zone != zone {
		t.Errorf("posture of %s/%s checked zone %q; want %q, where the registry records it", project, name, rep.Zone, zone)
	}
	for _, r := range rep.Results {
		if strings.Contains(r.Evidence, "not found in") {
			t.Errorf("check %s: %s; want its VM found in %s", r.Check, r.Evidence, zone)
		}
	}
}
