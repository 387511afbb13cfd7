package audit_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// TestComputeAnswersBehindIAM pins, through the emulated IAM in front of
// Compute, two recorded details: an operation's `user` is the caller who
// asked for it, and Compute's errors, a permission denial included, have
// no `status` member.
func TestComputeAnswersBehindIAM(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	ins, err := op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String("vpc"), AutoCreateSubnetworks: proto.Bool(false),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ins.Proto().GetUser(); got != emulator.Operator {
		t.Errorf("operation user = %q, want the caller %q", got, emulator.Operator)
	}
	if err := ins.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = w.clients(t, someone).Networks.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "vpc"})
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusForbidden {
		t.Fatalf("get by someone without a role = %v, want 403", err)
	}
	if strings.Contains(ge.Body, `"status"`) || len(ge.Errors) != 1 || ge.Errors[0].Reason != "forbidden" {
		t.Errorf("403 body %s: want Compute's shape, errors [{reason forbidden}] and no status", ge.Body)
	}
}

// TestNetworkRepairsAudited: switching a network to custom mode and
// setting a subnet's Private Google Access are Admin Activity entries
// on the network or subnet, each needing its own permission, like the
// other Compute mutations.
func TestNetworkRepairsAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	if err := gcp.Wait(ctx)(op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String("auto"), AutoCreateSubnetworks: proto.Bool(true),
	}})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(op.Subnetworks.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: project, Region: "us-central1", SubnetworkResource: &computepb.Subnetwork{
		Name: proto.String("sub"), Network: proto.String("global/networks/auto"), IpCidrRange: proto.String("10.10.0.0/24"),
	}})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(op.Networks.SwitchToCustomMode(ctx, &computepb.SwitchToCustomModeNetworkRequest{Project: project, Network: "auto"})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(op.Subnetworks.SetPrivateIpGoogleAccess(ctx, &computepb.SetPrivateIpGoogleAccessSubnetworkRequest{
		Project: project, Region: "us-central1", Subnetwork: "sub",
		SubnetworksSetPrivateIpGoogleAccessRequestResource: &computepb.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: proto.Bool(true)},
	})); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, resource string }{
		{"compute.networks.switchToCustomMode", "projects/" + project + "/global/networks/auto"},
		{"compute.subnetworks.setPrivateIpGoogleAccess", "projects/" + project + "/regions/us-central1/subnetworks/sub"},
	} {
		got := w.entries("v1." + tt.method)
		if len(got) != 1 {
			t.Errorf("%s: %d audit entries, want 1", tt.method, len(got))
			continue
		}
		if ln := w.logNameOf("v1." + tt.method); ln != "projects/"+project+"/logs/"+audit.ActivityLog {
			t.Errorf("%s: logName %s, want the activity log", tt.method, ln)
		}
		info := got[0].GetAuthorizationInfo()
		if got[0].GetResourceName() != tt.resource || len(info) == 0 || info[0].GetPermission() != tt.method || !info[0].GetGranted() {
			t.Errorf("%s: resource %s, authorizationInfo %v; want %s, %s granted", tt.method, got[0].GetResourceName(), info, tt.resource, tt.method)
		}
	}
}
