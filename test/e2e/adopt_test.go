package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gce "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// sinkDeliverer plays Eventarc for the log sink: it posts each message the
// sink published to the logs topic since the last call to HandleLogEntry.
type sinkDeliverer struct {
	w    *world
	seen map[string]bool
}

// deliver posts the new messages; every one must be answered 2xx.
func (d *sinkDeliverer) deliver(t *testing.T) int {
	t.Helper()
	topic := "projects/" + d.w.cfg.Cloud.GCP.Project + "/topics/" + d.w.cfg.Coopguard.Topics.Logs
	n := 0
	for _, m := range d.w.emu.PubSub.Messages() {
		if m.Topic != topic || d.seen[m.ID] {
			continue
		}
		d.seen[m.ID] = true
		n++
		if code := d.w.postEvent(t, "HandleLogEntry", binary, m.Data, m.Attributes); code != http.StatusOK {
			t.Fatalf("HandleLogEntry = %d\n%s", code, d.w.logs)
		}
	}
	return n
}

// TestAdoptCloudcoopVM: a VM created as cloudcoop's docs create it (Spot,
// default network, external IP, claude-sandbox tag, OS Login, cloudcoop's
// metadata), through the official client on GCP's clock, is adopted by
// Provision {"adopt": true} without a stop or a start. GCP's preemption
// and the user's evening stop and morning start raise nothing. Posture
// lists what is off the checklist, each with its fix. Then the agent on
// the VM reaches for a key of its account: the sink's entry contains the
// sandbox (quarantine tag, whose rule is in the default network; the VM
// stopped), and when the user starts it again it keeps its quarantine.
func TestAdoptCloudcoopVM(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastAgentTimeout)
	ctx := context.Background()
	g := w.cfg.Cloud.GCP
	name := w.cfg.VM.Name
	if err := w.emu.Compute.CreateDefaultNetwork(g.Project); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(w.operator.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: g.Project, FirewallResource: compute.CloudcoopIAPRule()})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(w.operator.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: g.Project, Zone: g.Zone,
		InstanceResource: compute.CloudcoopInstance(g.Zone, name, g.ServiceAccount)})); err != nil {
		t.Fatal(err)
	}
	inst := func() *computepb.Instance {
		t.Helper()
		i, ok := w.emu.Compute.Instance(g.Project, g.Zone, name)
		if !ok {
			t.Fatal("the VM is gone")
		}
		return i
	}
	power := func() int {
		return w.emu.Faults.Calls("compute.instances.stop") + w.emu.Faults.Calls("compute.instances.start")
	}
	sink := &sinkDeliverer{w: w, seen: map[string]bool{}}

	// Provision without adopt refuses it and builds nothing.
	if code, rep := w.provision(t, ""); code != http.StatusConflict || len(rep.Resources) != 1 {
		t.Fatalf("plain Provision of cloudcoop's VM = %d %+v, want 409 and nothing built", code, rep.Resources)
	}
	code, rep := w.provision(t, `{"adopt": true}`)
	if code != http.StatusOK {
		t.Fatalf("adopt = %d: %+v\n%s", code, rep.Failed(), w.logs)
	}
	if power() != 0 {
		t.Errorf("adoption made %d stop/start calls", power())
	}
	if i := inst(); i.GetStatus() != "RUNNING" || i.GetLabels()[provisioner.AdoptedLabel] != "default" || i.GetLabels()[config.SandboxLabel] != name {
		t.Fatalf("after adopt: %s, labels %v", i.GetStatus(), i.GetLabels())
	}
	if len(rep.Gaps) == 0 {
		t.Error("the adopt report lists nothing that needs a stop")
	}

	// GCP preempts it; the user starts it, stops it for the night and
	// starts it in the morning: none of it is an incident.
	if err := w.emu.Preempt(ctx, g.Project, g.Zone, name); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (*gce.Operation, error){
		func() (*gce.Operation, error) {
			return w.operator.Instances.Start(ctx, &computepb.StartInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: name})
		},
		func() (*gce.Operation, error) {
			return w.operator.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: name})
		},
		func() (*gce.Operation, error) {
			return w.operator.Instances.Start(ctx, &computepb.StartInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: name})
		},
	} {
		if err := gcp.Wait(ctx)(step()); err != nil {
			t.Fatal(err)
		}
	}
	// The sink leaves these entries out; delivered all the same, as a
	// wider sink would, the rules still raise nothing.
	sink.deliver(t)
	powerEntries := 0
	for _, e := range w.emu.Logging.AllEntries() {
		var al auditpb.AuditLog
		if e.GetProtoPayload() == nil || e.GetProtoPayload().UnmarshalTo(&al) != nil ||
			!strings.HasSuffix(al.GetResourceName(), "/instances/"+name) || !regexp.MustCompile(`instances\.(stop|start|preempted)$`).MatchString(al.GetMethodName()) {
			continue
		}
		data, err := protojson.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		powerEntries++
		if code := w.postEvent(t, "HandleLogEntry", binary, data, nil); code != http.StatusOK {
			t.Fatalf("HandleLogEntry = %d\n%s", code, w.logs)
		}
	}
	if powerEntries != 4 {
		t.Errorf("%d audit entries of the preemption and the user's start, stop, start; want 4", powerEntries)
	}
	if got := w.incidents(t); len(got) != 0 {
		t.Fatalf("preemption and the user's stop/start opened incidents: %v\n%s", got, w.logs)
	}
	if inst().GetStatus() != "RUNNING" {
		t.Fatalf("the VM is %s after the user's start", inst().GetStatus())
	}

	// Posture lists what is off the checklist, each with its fix.
	code, b := w.do(t, http.MethodGet, "/Posture", "", nil)
	if code != http.StatusOK {
		t.Fatalf("Posture = %d %s", code, b)
	}
	var pr posture.Report
	if err := json.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, r := range pr.Results {
		if r.Status == posture.Fail {
			failed[r.Check] = r.Fix
		}
	}
	for _, c := range []string{"no-external-ip", "shielded-vm", "ssh-iap-only"} {
		if fix, ok := failed[c]; !ok || fix == "" {
			t.Errorf("posture %s: failed=%v fix %q; want a failure with its fix", c, ok, fix)
		}
	}

	// The drill: the agent on the VM asks IAM for a key of its account.
	agent, err := w.emu.OpenVM(g.Project, g.Zone, name).Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if _, err := agent.IAMAdmin.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: "projects/" + g.Project + "/serviceAccounts/" + g.ServiceAccount}); err == nil {
		t.Fatal("the sandbox's account minted a key of itself")
	}
	if sink.deliver(t) == 0 {
		t.Fatal("the sink delivered nothing of the agent's call")
	}
	w.finishFollowUps(t)
	var triggers []string
	for _, r := range w.incidents(t) {
		triggers = append(triggers, r.Incident.Trigger)
	}
	if !slices.Contains(triggers, detect.RuleSandboxSAPrivilegedCall) {
		t.Fatalf("incidents %v, want one by %s\n%s", triggers, detect.RuleSandboxSAPrivilegedCall, w.logs)
	}
	i := inst()
	if !slices.Contains(i.GetTags().GetItems(), config.QuarantineTag) {
		t.Errorf("tags after containment = %v, want %s", i.GetTags().GetItems(), config.QuarantineTag)
	}
	for j := 0; inst().GetStatus() != "TERMINATED"; j++ {
		if j == 10 {
			t.Fatalf("the contained VM is %s ten emulated minutes on", inst().GetStatus())
		}
		w.emu.Clock.Advance(time.Minute)
	}
	fw, err := w.operator.Firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: g.Project, Firewall: "coopguard-" + name + "-quarantine"})
	if err != nil || !strings.HasSuffix(fw.GetNetwork(), "/networks/default") {
		t.Fatalf("quarantine rule %v: %v, want one in the default network", fw, err)
	}

	// The user starts the contained VM: it keeps its quarantine until
	// resolve, and the start is no new incident.
	before := len(triggers)
	if err := gcp.Wait(ctx)(w.operator.Instances.Start(ctx, &computepb.StartInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: name})); err != nil {
		t.Fatal(err)
	}
	sink.deliver(t)
	if !slices.Contains(inst().GetTags().GetItems(), config.QuarantineTag) {
		t.Errorf("the user's start lost the quarantine tag: %v", inst().GetTags().GetItems())
	}
	if n := len(w.incidents(t)); n != before {
		t.Errorf("the user's start of the contained VM: %d incidents, want %d\n%s", n, before, w.logs)
	}
}
