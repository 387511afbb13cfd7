package emulator_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// TestCallOrigin pins where the emulated GCP says a call came from: a VM's
// own call (the token its metadata server hands out) comes from the VM's
// internal address and its project's network, minted by the Compute
// Engine Service Agent; the same account's "emulated:<email>" token, and
// the VM's token once the VM is stopped, come from outside Google Cloud.
func TestCallOrigin(t *testing.T) {
	const project, zone, region = "coopguard-demo", "us-central1-a", "us-central1"
	const sandbox = "cc-sandbox@coopguard-demo.iam.gserviceaccount.com"
	const thief = "dev@example.com"
	emu, ctx := startProject(t, project)
	op, err := emu.Clients(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	netOp, err := op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String("sbx-net"), AutoCreateSubnetworks: proto.Bool(false)}})
	if err != nil || netOp.Wait(ctx) != nil {
		t.Fatalf("create the network: %v", err)
	}
	snOp, err := op.Subnetworks.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: project, Region: region, SubnetworkResource: &computepb.Subnetwork{
		Name: proto.String("sbx-subnet"), Network: proto.String("global/networks/sbx-net"), IpCidrRange: proto.String("10.10.0.0/24"), PrivateIpGoogleAccess: proto.Bool(true)}})
	if err != nil || snOp.Wait(ctx) != nil {
		t.Fatalf("create the subnetwork: %v", err)
	}
	inst := emu.Compute.SeedInstance(project, zone, &computepb.Instance{
		Name:              proto.String("sbx"),
		NetworkInterfaces: []*computepb.NetworkInterface{{Subnetwork: proto.String("regions/" + region + "/subnetworks/sbx-subnet")}},
		ServiceAccounts:   []*computepb.ServiceAccount{{Email: proto.String(sandbox)}},
	})
	internal := inst.GetNetworkInterfaces()[0].GetNetworkIP()
	if !strings.HasPrefix(internal, "10.10.0.") {
		t.Fatalf("the VM's internal address is %q, want one in 10.10.0.0/24", internal)
	}
	vm := emu.OpenVM(project, zone, "sbx")
	fromVM, err := vm.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fromVM.Close() })
	outside, err := emu.ClientsAs(ctx, project, sandbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = outside.Close() })

	agent := audit.ComputeSystemAgent(resourcemanager.NumberOf(project))
	inside := origin{ip: internal, network: "//compute.googleapis.com/projects/" + project + "/global/networks/__unknown__", minter: agent}
	away := origin{ip: audit.OutsideIP}
	// SetIamPolicy is refused to the sandbox and always audited (Admin
	// Activity), whoever calls.
	escalate := func(c *gcp.Clients) {
		t.Helper()
		_, _ = c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + project, Policy: &iampb.Policy{}})
	}
	if got := lastOrigin(t, emu, sandbox, func() { escalate(fromVM) }); got != inside {
		t.Errorf("the VM's own call: origin %+v, want %+v", got, inside)
	}
	if got := lastOrigin(t, emu, sandbox, func() { escalate(outside) }); got != away {
		t.Errorf("the emulated:<email> token: origin %+v, want %+v", got, away)
	}
	stop, err := op.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: project, Zone: zone, Instance: "sbx"})
	if err != nil || stop.Wait(ctx) != nil {
		t.Fatalf("stop the VM: %v", err)
	}
	if got := lastOrigin(t, emu, sandbox, func() { escalate(fromVM) }); got != away {
		t.Errorf("the VM's token after the VM stopped: origin %+v, want %+v", got, away)
	}
	if _, err := vm.Token(context.Background()); err == nil {
		t.Error("the stopped VM's metadata server handed out a token")
	}
	// A token a user had minted for the account names the user.
	o := emu.OptionsAs("")
	o.Token = iam.MintedToken(thief, sandbox)
	minted, err := gcp.New(ctx, project, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = minted.Close() })
	if got, want := lastOrigin(t, emu, sandbox, func() { escalate(minted) }), (origin{ip: audit.OutsideIP, minter: thief}); got != want {
		t.Errorf("a minted token's call: origin %+v, want %+v", got, want)
	}
	// A VM without an attached account gets no token at all.
	emu.Compute.SeedInstance(project, zone, &computepb.Instance{Name: proto.String("bare"),
		NetworkInterfaces: []*computepb.NetworkInterface{{Subnetwork: proto.String("regions/" + region + "/subnetworks/sbx-subnet")}}})
	if tok, err := emu.OpenVM(project, zone, "bare").Token(ctx); err == nil {
		t.Errorf("a VM without a service account got token %q", tok)
	}
	if operator := lastOrigin(t, emu, emulator.Operator, func() { escalate(op) }); operator != away {
		t.Errorf("the operator's call: origin %+v, want %+v", operator, away)
	}
}

// origin is where an audit entry says a call came from.
type origin struct{ ip, network, minter string }

// lastOrigin runs call and returns the origin of the last audit entry by
// principal it made.
func lastOrigin(t *testing.T, emu *emulator.Emulator, principal string, call func()) origin {
	t.Helper()
	before := len(emu.Logging.AllEntries())
	call()
	entries := emu.Logging.AllEntries()
	for i := len(entries) - 1; i >= before; i-- {
		var a auditpb.AuditLog
		if p := entries[i].GetProtoPayload(); p == nil || p.UnmarshalTo(&a) != nil || a.GetAuthenticationInfo().GetPrincipalEmail() != principal {
			continue
		}
		o := origin{ip: a.GetRequestMetadata().GetCallerIp(), network: a.GetRequestMetadata().GetCallerNetwork()}
		if d := a.GetAuthenticationInfo().GetServiceAccountDelegationInfo(); len(d) > 0 {
			o.minter = d[0].GetFirstPartyPrincipal().GetPrincipalEmail()
		}
		return o
	}
	t.Fatalf("no audit entry by %s", principal)
	return origin{}
}
