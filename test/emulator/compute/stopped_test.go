package compute

import (
	"net/http"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestDeleteAccessConfig: instances.deleteAccessConfig takes the named
// access config off a running VM's interface; a missing or unknown name
// and an unknown interface are refused (400) and change nothing.
func TestDeleteAccessConfig(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	inst := e.createInstance(t, "web-1", nil, nil)
	nic := inst.GetNetworkInterfaces()[0].GetName()
	wait(t)(e.inst.AddAccessConfig(ctx, &computepb.AddAccessConfigInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
		NetworkInterface: nic, AccessConfigResource: &computepb.AccessConfig{Name: proto.String("External NAT")}}))
	del := func(nic, name string) error {
		op, err := e.inst.DeleteAccessConfig(ctx, &computepb.DeleteAccessConfigInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
			NetworkInterface: nic, AccessConfig: name})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	for _, bad := range []struct{ nic, name string }{{nic, ""}, {nic, "Other NAT"}, {"nic9", "External NAT"}} {
		if code, _ := apiCode(t, del(bad.nic, bad.name)); code != http.StatusBadRequest {
			t.Errorf("deleteAccessConfig %q %q: code %d, want 400", bad.nic, bad.name, code)
		}
	}
	if got, _ := e.srv.Instance(testProject, testZone, "web-1"); len(got.GetNetworkInterfaces()[0].GetAccessConfigs()) != 1 {
		t.Fatalf("a refused delete changed the access configs: %v", got.GetNetworkInterfaces()[0].GetAccessConfigs())
	}
	if err := del(nic, "External NAT"); err != nil {
		t.Fatalf("deleteAccessConfig of the running VM: %v", err)
	}
	got, _ := e.srv.Instance(testProject, testZone, "web-1")
	if acs := got.GetNetworkInterfaces()[0].GetAccessConfigs(); len(acs) != 0 || got.GetStatus() != "RUNNING" {
		t.Errorf("after the delete: access configs %v, status %s; want none, RUNNING", acs, got.GetStatus())
	}
}

// TestChangesThatNeedAStop: updateShieldedInstanceConfig and
// setServiceAccount are refused (400) while the VM runs and change
// nothing; once it is stopped, the Shielded VM options are merged (fields
// the body leaves out keep their value) and the account is replaced with
// its scopes.
func TestChangesThatNeedAStop(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, nil)
	const sa = "sandbox@sandbox-one.iam.gserviceaccount.com"
	shield := func() error {
		op, err := e.inst.UpdateShieldedInstanceConfig(ctx, &computepb.UpdateShieldedInstanceConfigInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
			ShieldedInstanceConfigResource: &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(true)}})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	account := func() error {
		op, err := e.inst.SetServiceAccount(ctx, &computepb.SetServiceAccountInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
			InstancesSetServiceAccountRequestResource: &computepb.InstancesSetServiceAccountRequest{Email: proto.String(sa), Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	for name, do := range map[string]func() error{"updateShieldedInstanceConfig": shield, "setServiceAccount": account} {
		if code, _ := apiCode(t, do()); code != http.StatusBadRequest {
			t.Errorf("%s on a running VM: code %d, want 400", name, code)
		}
	}
	got, _ := e.srv.Instance(testProject, testZone, "web-1")
	if got.GetShieldedInstanceConfig().GetEnableSecureBoot() || len(got.GetServiceAccounts()) != 0 {
		t.Fatalf("a refused change on the running VM took: %v, %v", got.GetShieldedInstanceConfig(), got.GetServiceAccounts())
	}
	wait(t)(e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"}))
	if err := shield(); err != nil {
		t.Fatalf("updateShieldedInstanceConfig on the stopped VM: %v", err)
	}
	if err := account(); err != nil {
		t.Fatalf("setServiceAccount on the stopped VM: %v", err)
	}
	got, _ = e.srv.Instance(testProject, testZone, "web-1")
	sh := got.GetShieldedInstanceConfig()
	if !sh.GetEnableSecureBoot() || !sh.GetEnableVtpm() || !sh.GetEnableIntegrityMonitoring() {
		t.Errorf("Shielded VM options = %v, want Secure Boot on and the defaults kept", sh)
	}
	if sas := got.GetServiceAccounts(); len(sas) != 1 || sas[0].GetEmail() != sa || len(sas[0].GetScopes()) != 1 {
		t.Errorf("service accounts = %v, want %s with its scope", sas, sa)
	}
	if got.GetStatus() != "TERMINATED" {
		t.Errorf("status = %s: the changes started the VM", got.GetStatus())
	}
}
