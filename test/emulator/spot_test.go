package emulator_test

import (
	"strconv"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestPreemptionWritesSystemEvent pins the System Event audit entry of a
// Spot VM's preemption: compute.instances.preempted by system@google.com
// on the gce_instance, with GCP's status message, in the system_event log.
func TestPreemptionWritesSystemEvent(t *testing.T) {
	const project, zone = "coopguard-demo", "us-central1-a"
	emu, ctx := startProject(t, project)
	if err := emu.Compute.CreateDefaultNetwork(project); err != nil {
		t.Fatal(err)
	}
	inst := emu.Compute.SeedInstance(project, zone, &computepb.Instance{
		Name: proto.String("claude-sandbox"), Status: proto.String("RUNNING"),
		Scheduling: &computepb.Scheduling{ProvisioningModel: proto.String("SPOT")},
	})
	if err := emu.Preempt(ctx, project, zone, "claude-sandbox"); err != nil {
		t.Fatal(err)
	}
	entries := emu.Logging.Entries("projects/" + project + "/logs/" + emulator.SystemEventLog)
	if len(entries) != 1 {
		t.Fatalf("%d system event entries, want 1", len(entries))
	}
	e := entries[0]
	var al auditpb.AuditLog
	if err := e.GetProtoPayload().UnmarshalTo(&al); err != nil {
		t.Fatal(err)
	}
	if al.GetMethodName() != "compute.instances.preempted" || al.GetAuthenticationInfo().GetPrincipalEmail() != "system@google.com" ||
		al.GetResourceName() != "projects/"+project+"/zones/"+zone+"/instances/claude-sandbox" || al.GetStatus().GetMessage() != "Instance was preempted." {
		t.Errorf("entry payload = %v", &al)
	}
	if e.GetResource().GetType() != "gce_instance" || e.GetResource().GetLabels()["instance_id"] != strconv.FormatUint(inst.GetId(), 10) {
		t.Errorf("entry resource = %v", e.GetResource())
	}
	if got, _ := emu.Compute.Instance(project, zone, "claude-sandbox"); got.GetStatus() != "TERMINATED" {
		t.Errorf("status = %s, want TERMINATED", got.GetStatus())
	}
}
