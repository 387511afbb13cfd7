package compute

import (
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	dcompute "google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
)

// TestPatchIsJSONMergePatch pins that PATCH reads its body as a JSON
// merge patch (RFC 7386): [] clears a list, null removes a field, and
// what the body leaves out stays. The discovery-based official client is
// the one that can send [] and null (ForceSendFields, NullFields).
func TestPatchIsJSONMergePatch(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "sandbox", "10.10.0.0/24")
	svc, err := dcompute.NewService(ctx, option.WithEndpoint(e.url+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	nat := &computepb.RouterNat{
		Name: proto.String("egress"), NatIpAllocateOption: proto.String("AUTO_ONLY"),
		SourceSubnetworkIpRangesToNat: proto.String("ALL_SUBNETWORKS_ALL_IP_RANGES"),
	}
	wait(t)(e.rt.Insert(ctx, &computepb.InsertRouterRequest{Project: testProject, Region: testRegion, RouterResource: &computepb.Router{
		Name: proto.String("nat-router"), Network: proto.String("global/networks/sandbox"),
		Description: proto.String("egress for the sandbox"), Nats: []*computepb.RouterNat{nat},
	}}))
	wait(t)(e.fw.Insert(ctx, &computepb.InsertFirewallRequest{Project: testProject, FirewallResource: &computepb.Firewall{
		Name: proto.String("deny-egress"), Network: proto.String("global/networks/sandbox"), Direction: proto.String("EGRESS"),
		Priority: proto.Int32(0), TargetTags: []string{"quarantine", "other"}, DestinationRanges: []string{"0.0.0.0/0"},
		Denied: []*computepb.Denied{{IPProtocol: proto.String("all")}},
	}}))
	cases := []struct {
		name  string
		patch func() error
		check func() string
	}{
		{
			name: "a field left out stays",
			patch: func() error {
				_, err := svc.Routers.Patch(testProject, testRegion, "nat-router", &dcompute.Router{Description: "new"}).Context(ctx).Do()
				return err
			},
			check: func() string {
				rt, _ := e.rt.Get(ctx, &computepb.GetRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router"})
				if rt.GetDescription() != "new" || len(rt.GetNats()) != 1 {
					return "router " + rt.String()
				}
				return ""
			},
		},
		{
			name: "null removes a field",
			patch: func() error {
				_, err := svc.Routers.Patch(testProject, testRegion, "nat-router", &dcompute.Router{NullFields: []string{"Description"}}).Context(ctx).Do()
				return err
			},
			check: func() string {
				rt, _ := e.rt.Get(ctx, &computepb.GetRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router"})
				if rt.Description != nil || len(rt.GetNats()) != 1 {
					return "router " + rt.String()
				}
				return ""
			},
		},
		{
			name: "[] clears a list",
			patch: func() error {
				_, err := svc.Routers.Patch(testProject, testRegion, "nat-router", &dcompute.Router{Nats: []*dcompute.RouterNat{}, ForceSendFields: []string{"Nats"}}).Context(ctx).Do()
				return err
			},
			check: func() string {
				rt, _ := e.rt.Get(ctx, &computepb.GetRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router"})
				if len(rt.GetNats()) != 0 {
					return "router " + rt.String()
				}
				return ""
			},
		},
		{
			name: "a list replaces the whole list",
			patch: func() error {
				_, err := svc.Firewalls.Patch(testProject, "deny-egress", &dcompute.Firewall{TargetTags: []string{"quarantine"}}).Context(ctx).Do()
				return err
			},
			check: func() string {
				fw, _ := e.fw.Get(ctx, &computepb.GetFirewallRequest{Project: testProject, Firewall: "deny-egress"})
				if !slices.Equal(fw.GetTargetTags(), []string{"quarantine"}) || fw.GetPriority() != 0 || len(fw.GetDenied()) != 1 {
					return "firewall " + fw.String()
				}
				return ""
			},
		},
	}
	for _, tc := range cases {
		if err := tc.patch(); err != nil {
			t.Errorf("%s: patch: %v", tc.name, err)
			continue
		}
		if msg := tc.check(); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
}
