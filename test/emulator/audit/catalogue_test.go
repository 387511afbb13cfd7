//lint:file-ignore SA1019 serviceData is deprecated in the proto, yet what IAM writes for SetIamPolicy

package audit_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	fnapi "cloud.google.com/go/functions/apiv2"
	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	iamlogging "google.golang.org/genproto/googleapis/iam/v1/logging"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// TestUpdatePeeringAudited: networks.updatePeering changes the named
// peering's custom route exchange, is Admin Activity
// v1.compute.networks.updatePeering on the network with the request
// (the peering) in the entry, and an unknown peering is 404.
func TestUpdatePeeringAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	for _, n := range []string{"net-a", "net-b"} {
		nop, err := op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
			Name: proto.String(n), AutoCreateSubnetworks: proto.Bool(false)}})
		if err == nil {
			err = nop.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pop, err := op.Networks.AddPeering(ctx, &computepb.AddPeeringNetworkRequest{Project: project, Network: "net-a",
		NetworksAddPeeringRequestResource: &computepb.NetworksAddPeeringRequest{NetworkPeering: &computepb.NetworkPeering{
			Name: proto.String("a-to-b"), Network: proto.String("global/networks/net-b")}}})
	if err == nil {
		err = pop.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	update := func(name string) error {
		uop, err := op.Networks.UpdatePeering(ctx, &computepb.UpdatePeeringNetworkRequest{Project: project, Network: "net-a",
			NetworksUpdatePeeringRequestResource: &computepb.NetworksUpdatePeeringRequest{NetworkPeering: &computepb.NetworkPeering{
				Name: proto.String(name), ExportCustomRoutes: proto.Bool(true), Network: proto.String("global/networks/elsewhere")}}})
		if err == nil {
			err = uop.Wait(ctx)
		}
		return err
	}
	if err := update("no-such-peering"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("updatePeering of an unknown peering = %v, want 404", err)
	}
	if err := update("a-to-b"); err != nil {
		t.Fatal(err)
	}
	n, err := op.Networks.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "net-a"})
	if err != nil || len(n.GetPeerings()) != 1 {
		t.Fatalf("networks.get net-a = %v, %v", n, err)
	}
	if p := n.GetPeerings()[0]; !p.GetExportCustomRoutes() || p.GetImportCustomRoutes() || !strings.HasSuffix(p.GetNetwork(), "/global/networks/net-b") {
		t.Errorf("peering after updatePeering = %v, want custom routes exported, the peer unchanged", p)
	}
	e := w.entries("v1.compute.networks.updatePeering")
	if len(e) != 2 || e[1].GetResourceName() != "projects/"+project+"/global/networks/net-a" {
		t.Fatalf("updatePeering entries = %v, want two on net-a", e)
	}
	if np := e[1].GetRequest().GetFields()["networkPeering"].GetStructValue().GetFields(); np["name"].GetStringValue() != "a-to-b" || !np["exportCustomRoutes"].GetBoolValue() {
		t.Errorf("updatePeering request = %v, want the peering a-to-b exporting custom routes", e[1].GetRequest())
	}
	if ln := w.logNameOf("v1.compute.networks.updatePeering"); !strings.HasSuffix(ln, audit.ActivityLog) {
		t.Errorf("updatePeering logged in %s, want the activity log", ln)
	}
}

// TestFunctionsAudited: UpdateFunction and the IAMPolicy mixin's
// SetIamPolicy on a function are Admin Activity entries of
// cloudfunctions.googleapis.com named as the audit logging page lists
// them (google.cloud.functions.v2.FunctionService.UpdateFunction,
// SetIamPolicy), SetIamPolicy with its policy delta; without
// cloudfunctions.functions.update the call is PERMISSION_DENIED,
// audited with status 7, and changes nothing.
func TestFunctionsAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.emu.Functions.SeedFunction(project, "us-central1", "coopguard-status", "Status", "coopguard-viewer@"+project+".iam.gserviceaccount.com")
	name := "projects/" + project + "/locations/us-central1/functions/coopguard-status"
	dial := func(principal string) *fnapi.FunctionClient {
		c, err := fnapi.NewFunctionClient(ctx, append(gcp.EmulatedGRPC(w.emu.GRPCAddr), gcp.EmulatedIdentity(principal))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	redeploy := func(c *fnapi.FunctionClient) error {
		op, err := c.UpdateFunction(ctx, &functionspb.UpdateFunctionRequest{UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"build_config.entry_point"}},
			Function: &functionspb.Function{Name: name, BuildConfig: &functionspb.BuildConfig{EntryPoint: "Dump"}}})
		if err == nil {
			_, err = op.Wait(ctx)
		}
		return err
	}
	if err := redeploy(dial(someone)); status.Code(err) != codes.PermissionDenied {
		t.Errorf("UpdateFunction by %s = %v, want PERMISSION_DENIED", someone, err)
	}
	if fn, _ := w.emu.Functions.Function(name); fn.GetBuildConfig().GetEntryPoint() != "Status" {
		t.Errorf("a refused UpdateFunction changed the function: %v", fn)
	}
	op := dial(emulator.Operator)
	if err := redeploy(op); err != nil {
		t.Fatal(err)
	}
	e := w.entries("google.cloud.functions.v2.FunctionService.UpdateFunction")
	if len(e) != 2 || e[0].GetStatus().GetCode() != 7 || e[1].GetStatus().GetCode() != 0 || e[1].GetResourceName() != name ||
		e[1].GetServiceName() != "cloudfunctions.googleapis.com" || e[0].GetAuthenticationInfo().GetPrincipalEmail() != someone {
		t.Errorf("UpdateFunction entries = %v, want the refusal (7) then the update, on %s", e, name)
	}
	if ln := w.logNameOf("google.cloud.functions.v2.FunctionService.UpdateFunction"); !strings.HasSuffix(ln, audit.ActivityLog) {
		t.Errorf("UpdateFunction logged in %s, want the activity log", ln)
	}
	pol, err := op.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name})
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/cloudfunctions.invoker", Members: []string{"allUsers"}})
	if _, err := op.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	e = w.entries("SetIamPolicy")
	if len(e) != 1 || e[0].GetServiceName() != "cloudfunctions.googleapis.com" || e[0].GetResourceName() != name {
		t.Fatalf("SetIamPolicy entries = %v, want one of cloudfunctions on %s", e, name)
	}
	var data iamlogging.AuditData
	if e[0].GetServiceData() == nil || e[0].GetServiceData().UnmarshalTo(&data) != nil {
		t.Fatalf("serviceData = %v, want the policy delta", e[0].GetServiceData())
	}
	if d := data.GetPolicyDelta().GetBindingDeltas(); len(d) != 1 || d[0].GetMember() != "allUsers" || d[0].GetAction() != iampb.BindingDelta_ADD {
		t.Errorf("binding deltas = %v, want allUsers added", d)
	}
	if ln := w.logNameOf("SetIamPolicy"); !strings.HasSuffix(ln, audit.ActivityLog) {
		t.Errorf("SetIamPolicy logged in %s, want the activity log", ln)
	}
}

// TestDeleteFunctionAudited: DeleteFunction is an Admin Activity entry of
// cloudfunctions.googleapis.com named
// google.cloud.functions.v2.FunctionService.DeleteFunction on the
// function; without cloudfunctions.functions.delete the call is
// PERMISSION_DENIED, audited with status 7, and the function stays.
func TestDeleteFunctionAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.emu.Functions.SeedFunction(project, "us-central1", "coopguard-status", "Status", "coopguard-viewer@"+project+".iam.gserviceaccount.com")
	name := "projects/" + project + "/locations/us-central1/functions/coopguard-status"
	del := func(principal string) error {
		c, err := fnapi.NewFunctionClient(ctx, append(gcp.EmulatedGRPC(w.emu.GRPCAddr), gcp.EmulatedIdentity(principal))...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		op, err := c.DeleteFunction(ctx, &functionspb.DeleteFunctionRequest{Name: name})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	}
	if err := del(someone); status.Code(err) != codes.PermissionDenied {
		t.Errorf("DeleteFunction by %s = %v, want PERMISSION_DENIED", someone, err)
	}
	if _, ok := w.emu.Functions.Function(name); !ok {
		t.Fatal("a refused DeleteFunction deleted the function")
	}
	if err := del(emulator.Operator); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.emu.Functions.Function(name); ok {
		t.Error("the operator's DeleteFunction left the function")
	}
	const method = "google.cloud.functions.v2.FunctionService.DeleteFunction"
	e := w.entries(method)
	if len(e) != 2 || e[0].GetStatus().GetCode() != 7 || e[1].GetStatus().GetCode() != 0 || e[1].GetResourceName() != name ||
		e[1].GetServiceName() != "cloudfunctions.googleapis.com" || e[1].GetAuthenticationInfo().GetPrincipalEmail() != emulator.Operator {
		t.Errorf("DeleteFunction entries = %v, want the refusal (7) then the deletion, on %s", e, name)
	}
	if ln := w.logNameOf(method); !strings.HasSuffix(ln, audit.ActivityLog) {
		t.Errorf("DeleteFunction logged in %s, want the activity log", ln)
	}
}

// TestDeleteServiceAudited: Cloud Run's DeleteService is an Admin
// Activity entry of run.googleapis.com named
// google.cloud.run.v2.Services.DeleteService on the service; without
// run.services.delete the call is PERMISSION_DENIED, audited with status
// 7, and the service stays.
func TestDeleteServiceAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.emu.Run.SeedService(project, "us-central1", "coopguard-status", nil)
	name := "projects/" + project + "/locations/us-central1/services/coopguard-status"
	del := func(principal string) error {
		op, err := w.clients(t, principal).Services.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: name})
		if err == nil {
			_, err = op.Wait(ctx)
		}
		return err
	}
	if err := del(someone); status.Code(err) != codes.PermissionDenied {
		t.Errorf("DeleteService by %s = %v, want PERMISSION_DENIED", someone, err)
	}
	if _, ok := w.emu.Run.Service(project, "us-central1", "coopguard-status"); !ok {
		t.Fatal("a refused DeleteService deleted the service")
	}
	if err := del(emulator.Operator); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.emu.Run.Service(project, "us-central1", "coopguard-status"); ok {
		t.Error("the operator's DeleteService left the service")
	}
	const method = "google.cloud.run.v2.Services.DeleteService"
	e := w.entries(method)
	if len(e) != 2 || e[0].GetStatus().GetCode() != 7 || e[1].GetStatus().GetCode() != 0 || e[1].GetResourceName() != name ||
		e[1].GetServiceName() != "run.googleapis.com" || e[1].GetAuthenticationInfo().GetPrincipalEmail() != emulator.Operator {
		t.Errorf("DeleteService entries = %v, want the refusal (7) then the deletion, on %s", e, name)
	}
	if ln := w.logNameOf(method); !strings.HasSuffix(ln, audit.ActivityLog) {
		t.Errorf("DeleteService logged in %s, want the activity log", ln)
	}
}
