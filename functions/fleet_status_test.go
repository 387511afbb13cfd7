package functions

import (
	"context"
	"strconv"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/store"
)

// TestStatusReadsEachSandboxInItsOwnProject: Status reads a sandbox the
// registry records in a project of its own there, in the zone the
// registry records (not the configured one): its VM's real status (a
// preempted Spot VM, TERMINATED, while coopguard's project's VM of the
// same name runs), and its secrets' versions in that project, not those
// of the same-named secret in coopguard's project; a recorded sandbox
// whose VM and secrets do not exist yet shows no VM and its secrets
// missing. It lists VMs once per project and zone, however many
// sandboxes are there.
func TestStatusReadsEachSandboxInItsOwnProject(t *testing.T) {
	w := newFleetWorld(t)
	ctx := context.Background()
	home, homeZone := w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone
	const project, zone = "sandbox-proj-st", "us-east1-c"
	for i, name := range []string{"box-a", "box-b"} {
		sb, err := provisioner.SandboxIn(w.cfg, project, name, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.st.RegisterSandbox(ctx, store.Registered{Project: project, Zone: zone, Name: name, ServiceAccount: sb.ServiceAccount,
			Network: "default", Secrets: sb.Secrets, Canary: sb.Canary, InstanceID: strconv.Itoa(5000 + i), Adopted: true}); err != nil {
			t.Fatal(err)
		}
	}
	labelled := func(name string) *computepb.Instance {
		return &computepb.Instance{Name: proto.String(name), Labels: map[string]string{config.SandboxLabel: name},
			Scheduling: &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), InstanceTerminationAction: proto.String("STOP")}}
	}
	w.emu.Compute.SeedInstance(project, zone, labelled("box-a"))
	if _, err := w.emu.Compute.Preempt(project, zone, "box-a"); err != nil {
		t.Fatal(err)
	}
	w.emu.Compute.SeedInstance(home, homeZone, labelled("box-a"))
	secret := w.cfg.SandboxSecrets("box-a")[0]
	w.emu.SecretManager.SeedVersions(project, secret, []byte("sk-sandbox-1"), []byte("sk-sandbox-2"))
	w.emu.SecretManager.SeedVersions(home, secret, []byte("sk-home-1"))

	lists := w.emu.Faults.Calls("compute.instances.list")
	rep, err := CollectStatus(ctx, w.env)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.emu.Faults.Calls("compute.instances.list") - lists; n != 2 {
		t.Errorf("Status listed VMs %d times; want 2 (coopguard's project, and %s/%s once for its two sandboxes)", n, project, zone)
	}
	vm := map[string]SandboxStatus{}
	for _, s := range rep.Sandboxes {
		vm[s.Project+"/"+s.Name] = s
	}
	if s := vm[project+"/box-a"]; s.VM != "TERMINATED" || s.ReadError != "" {
		t.Errorf("%s/box-a: VM %q (read error %q); want TERMINATED, read in %s", project, s.VM, s.ReadError, zone)
	}
	if s := vm[project+"/box-b"]; s.VM != "" || s.ReadError != "" {
		t.Errorf("%s/box-b, not built: VM %q (read error %q); want none", project, s.VM, s.ReadError)
	}
	states := map[string]string{}
	for _, in := range rep.Instances {
		states[in.Project+"/"+in.Zone+"/"+in.Name] = in.Status
	}
	if states[project+"/"+zone+"/box-a"] != "TERMINATED" || states[home+"/"+homeZone+"/box-a"] != "RUNNING" {
		t.Errorf("instances %v; want %s's box-a TERMINATED and %s's RUNNING", states, project, home)
	}
	versions := map[string]SecretStatus{}
	for _, s := range rep.Secrets {
		versions[s.Name] = s
	}
	own := versions["projects/"+project+"/secrets/"+secret]
	if own.Project != project || own.Sandbox != "box-a" || own.Missing || own.Error != "" || len(own.Versions) != 2 {
		t.Errorf("%s in %s: %+v; want box-a's, with its 2 versions there", secret, project, own)
	}
	if h := versions["projects/"+home+"/secrets/"+secret]; h.Project != home || len(h.Versions) != 1 {
		t.Errorf("%s in %s: %+v; want coopguard's project's box-a's, with its 1 version", secret, home, h)
	}
	b := versions["projects/"+project+"/secrets/"+w.cfg.SandboxSecrets("box-b")[0]]
	if b.Sandbox != "box-b" || !b.Missing {
		t.Errorf("box-b's secret in %s: %+v; want it listed, missing", project, b)
	}
}
