package compute

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// cloudcoopVM is the instance as cloudcoop's docs create it.
func cloudcoopVM(name string) *computepb.Instance {
	return CloudcoopInstance(testZone, name, "cc-sandbox@"+testProject+".iam.gserviceaccount.com")
}

// TestSpotVMPreempted pins a Spot VM's scheduling as created and its
// preemption: TERMINATED (STOP), the boot disk kept, a DONE zone operation
// compute.instances.preempted by "system"; a standard VM is not preempted.
func TestSpotVMPreempted(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	if err := e.srv.CreateDefaultNetwork(testProject); err != nil {
		t.Fatal(err)
	}
	wait(t)(e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: cloudcoopVM("claude-sandbox")}))
	got, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "claude-sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	sc := got.GetScheduling()
	if sc.GetProvisioningModel() != "SPOT" || sc.GetInstanceTerminationAction() != "STOP" || sc.GetAutomaticRestart() || sc.GetOnHostMaintenance() != "TERMINATE" {
		t.Errorf("spot scheduling = %v", sc)
	}
	if got.GetStatus() != "RUNNING" {
		t.Fatalf("status = %s", got.GetStatus())
	}
	if _, err := e.srv.Preempt(testProject, testZone, "claude-sandbox"); err != nil {
		t.Fatal(err)
	}
	got, err = e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "claude-sandbox"})
	if err != nil {
		t.Fatalf("a preempted Spot VM with STOP is kept: %v", err)
	}
	if got.GetStatus() != "TERMINATED" || got.GetLastStopTimestamp() == "" {
		t.Errorf("after preemption: status %s, lastStop %q", got.GetStatus(), got.GetLastStopTimestamp())
	}
	var found bool
	for op, err := range e.zops.List(ctx, &computepb.ListZoneOperationsRequest{Project: testProject, Zone: testZone}).All() {
		if err != nil {
			t.Fatal(err)
		}
		if op.GetOperationType() == PreemptedMethod {
			found = true
			if op.GetUser() != PreemptionUser || op.GetStatus() != computepb.Operation_DONE || op.GetTargetId() != got.GetId() {
				t.Errorf("preemption operation = %v", op)
			}
		}
	}
	if !found {
		t.Error("no compute.instances.preempted operation")
	}
	if _, err := e.srv.Preempt(testProject, testZone, "claude-sandbox"); err == nil {
		t.Error("a TERMINATED VM was preempted again")
	}
	std := cloudcoopVM("standard")
	std.Scheduling = nil
	wait(t)(e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: std}))
	if _, err := e.srv.Preempt(testProject, testZone, "standard"); err == nil {
		t.Error("a standard VM was preempted")
	}
	// Spot with no termination action: STOP by default.
	dflt := cloudcoopVM("spot-default")
	dflt.Scheduling.InstanceTerminationAction = nil
	wait(t)(e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: dflt}))
	if g, _ := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "spot-default"}); g.GetScheduling().GetInstanceTerminationAction() != "STOP" {
		t.Errorf("spot default termination action = %q, want STOP", g.GetScheduling().GetInstanceTerminationAction())
	}
}

// TestDefaultNetwork pins the default network: auto mode, its four
// ingress rules at priority 65534, and a second one refused.
func TestDefaultNetwork(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	if err := e.srv.CreateDefaultNetwork(testProject); err != nil {
		t.Fatal(err)
	}
	n, err := e.net.Get(ctx, &computepb.GetNetworkRequest{Project: testProject, Network: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if !n.GetAutoCreateSubnetworks() || n.GetMtu() != 1460 {
		t.Errorf("default network = %v", n)
	}
	for _, name := range []string{"default-allow-internal", "default-allow-ssh", "default-allow-rdp", "default-allow-icmp"} {
		fw, err := e.fw.Get(ctx, &computepb.GetFirewallRequest{Project: testProject, Firewall: name})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fw.GetPriority() != 65534 || fw.GetDirection() != "INGRESS" || fw.GetNetwork() != n.GetSelfLink() {
			t.Errorf("%s = %v", name, fw)
		}
	}
	if err := e.srv.CreateDefaultNetwork(testProject); err == nil {
		t.Error("a second default network was made")
	}
}
