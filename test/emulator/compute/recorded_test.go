package compute

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	gce "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// TestSetPrivateIpGoogleAccess pins, as recorded, what a subnetwork
// inserted without them shows (Private Google Access off, purpose
// PRIVATE, no IPv6 Google access) and subnetworks.setPrivateIpGoogleAccess:
// a regional operation that turns Private Google Access on (or off)
// without a fingerprint, and gives the subnetwork a new fingerprint.
func TestSetPrivateIpGoogleAccess(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "sandbox", "10.10.0.0/24")
	get := func() *computepb.Subnetwork {
		t.Helper()
		sn, err := e.sub.Get(ctx, &computepb.GetSubnetworkRequest{Project: testProject, Region: testRegion, Subnetwork: "sandbox-" + testRegion})
		if err != nil {
			t.Fatal(err)
		}
		return sn
	}
	before := get()
	if before.PrivateIpGoogleAccess == nil || before.GetPrivateIpGoogleAccess() || before.GetPurpose() != "PRIVATE" ||
		before.GetPrivateIpv6GoogleAccess() != "DISABLE_GOOGLE_ACCESS" {
		t.Fatalf("a subnetwork inserted without them: privateIpGoogleAccess %v, purpose %q, privateIpv6GoogleAccess %q; want false, PRIVATE, DISABLE_GOOGLE_ACCESS",
			before.PrivateIpGoogleAccess, before.GetPurpose(), before.GetPrivateIpv6GoogleAccess())
	}
	set := func(name string, on bool) (*gce.Operation, error) {
		return e.sub.SetPrivateIpGoogleAccess(ctx, &computepb.SetPrivateIpGoogleAccessSubnetworkRequest{
			Project: testProject, Region: testRegion, Subnetwork: name,
			SubnetworksSetPrivateIpGoogleAccessRequestResource: &computepb.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: proto.Bool(on)},
		})
	}
	op := wait(t)(set("sandbox-"+testRegion, true))
	if op.GetOperationType() != "setPrivateIpGoogleAccess" || op.GetRegion() == "" {
		t.Errorf("operation = %v, want a regional setPrivateIpGoogleAccess", op)
	}
	after := get()
	if !after.GetPrivateIpGoogleAccess() || after.GetFingerprint() == before.GetFingerprint() {
		t.Errorf("after: privateIpGoogleAccess=%v fingerprint %q (was %q), want on and a new fingerprint",
			after.GetPrivateIpGoogleAccess(), after.GetFingerprint(), before.GetFingerprint())
	}
	if after.GetIpCidrRange() != before.GetIpCidrRange() || after.GetNetwork() != before.GetNetwork() {
		t.Errorf("the call changed more than Private Google Access: %v", after)
	}
	_, err := set("missing", true)
	if code, reason := apiCode(t, err); code != http.StatusNotFound || reason != "notFound" {
		t.Errorf("missing subnetwork: %d %s, want 404 notFound", code, reason)
	}
}

// TestSwitchToCustomMode pins networks.switchToCustomMode: a global
// operation after which the network no longer auto-creates subnetworks;
// a network already in custom mode is refused (stricter: undocumented).
func TestSwitchToCustomMode(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	wait(t)(e.net.Insert(ctx, &computepb.InsertNetworkRequest{Project: testProject, NetworkResource: &computepb.Network{
		Name: proto.String("auto"), AutoCreateSubnetworks: proto.Bool(true),
	}}))
	op := wait(t)(e.net.SwitchToCustomMode(ctx, &computepb.SwitchToCustomModeNetworkRequest{Project: testProject, Network: "auto"}))
	if op.GetOperationType() != "switchToCustomMode" || op.GetRegion() != "" || op.GetZone() != "" {
		t.Errorf("operation = %v, want a global switchToCustomMode", op)
	}
	n, err := e.net.Get(ctx, &computepb.GetNetworkRequest{Project: testProject, Network: "auto"})
	if err != nil || n.GetAutoCreateSubnetworks() {
		t.Fatalf("after the switch: %v, %v; want custom mode", n, err)
	}
	_, err = e.net.SwitchToCustomMode(ctx, &computepb.SwitchToCustomModeNetworkRequest{Project: testProject, Network: "auto"})
	if code, _ := apiCode(t, err); code != http.StatusBadRequest {
		t.Errorf("switching a custom-mode network: %d, want 400", code)
	}
	_, err = e.net.SwitchToCustomMode(ctx, &computepb.SwitchToCustomModeNetworkRequest{Project: testProject, Network: "missing"})
	if code, _ := apiCode(t, err); code != http.StatusNotFound {
		t.Errorf("missing network: %d, want 404", code)
	}
}

// TestOperationAnswer pins the answer to a mutation as recorded: its
// operation RUNNING at progress 0 even when the work takes time, and
// `user` the authenticated caller.
func TestOperationAnswer(t *testing.T) {
	srv := New(nil)
	srv.SetProfile(GCPLike())
	const caller = "provisioner@ops-project.iam.gserviceaccount.com"
	// The emulated IAM in front of the fake puts the caller on the
	// request's context; stand in for it.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r.WithContext(iam.WithPrincipal(r.Context(), caller)))
	}))
	t.Cleanup(hs.Close)
	ctx := testCtx(t)
	nets, err := gce.NewNetworksRESTClient(context.Background(), option.WithEndpoint(hs.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nets.Close() })
	op, err := nets.Insert(ctx, &computepb.InsertNetworkRequest{Project: testProject, NetworkResource: &computepb.Network{
		Name: proto.String("vpc"), AutoCreateSubnetworks: proto.Bool(false),
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := op.Proto()
	if got.GetStatus() != computepb.Operation_RUNNING || got.Progress == nil || got.GetProgress() != 0 || got.GetUser() != caller {
		t.Errorf("answer: status %v progress %v user %q; want RUNNING, 0, %q", got.GetStatus(), got.Progress, got.GetUser(), caller)
	}
}

// TestErrorShape pins Compute's error body as recorded: code, message
// and errors [{domain, reason, message}], and no canonical status name
// (the newer Google APIs' shape has one; Compute's has not).
func TestErrorShape(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.url + apiPrefix + testProject + "/global/networks/missing")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var body struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("body %s: %v", raw, err)
	}
	keys := make([]string, 0, len(body.Error))
	for k := range body.Error {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if res.StatusCode != http.StatusNotFound || !slices.Equal(keys, []string{"code", "errors", "message"}) {
		t.Fatalf("404 body %s: members %v, want code, errors, message", raw, keys)
	}
	var items []map[string]string
	if err := json.Unmarshal(body.Error["errors"], &items); err != nil || len(items) != 1 ||
		items[0]["domain"] != "global" || items[0]["reason"] != "notFound" || items[0]["message"] == "" {
		t.Errorf("errors = %s (%v), want one {domain global, reason notFound, message}", body.Error["errors"], err)
	}
}

// TestRouterNATServerFilled pins what the server fills on a NAT that a
// request leaves out, as recorded: type PUBLIC, endpointTypes
// [ENDPOINT_TYPE_VM], autoNetworkTier PREMIUM, and the output-only
// effectiveTcpTimeWaitTimeoutSec, which follows tcpTimeWaitTimeoutSec
// (120 when unset) whatever a request sends for it; sending the filled
// NAT back, as a read-modify-write does, is accepted.
func TestRouterNATServerFilled(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "sandbox", "10.10.0.0/24")
	wait(t)(e.rt.Insert(ctx, &computepb.InsertRouterRequest{Project: testProject, Region: testRegion, RouterResource: &computepb.Router{
		Name: proto.String("r"), Network: proto.String("global/networks/sandbox"),
		Nats: []*computepb.RouterNat{{
			Name: proto.String("nat"), NatIpAllocateOption: proto.String("AUTO_ONLY"),
			SourceSubnetworkIpRangesToNat: proto.String("ALL_SUBNETWORKS_ALL_IP_RANGES"),
		}},
	}}))
	get := func() *computepb.RouterNat {
		t.Helper()
		rt, err := e.rt.Get(ctx, &computepb.GetRouterRequest{Project: testProject, Region: testRegion, Router: "r"})
		if err != nil || len(rt.GetNats()) != 1 {
			t.Fatalf("router %v, %v", rt, err)
		}
		return rt.GetNats()[0]
	}
	n := get()
	if n.GetType() != "PUBLIC" || !slices.Equal(n.GetEndpointTypes(), []string{"ENDPOINT_TYPE_VM"}) ||
		n.GetAutoNetworkTier() != "PREMIUM" || n.EffectiveTcpTimeWaitTimeoutSec == nil || n.GetEffectiveTcpTimeWaitTimeoutSec() != 120 {
		t.Errorf("filled NAT = %v", n)
	}
	// Write the NAT back as read, with a new TIME_WAIT timeout and a
	// made-up output-only value.
	n.TcpTimeWaitTimeoutSec = proto.Int32(60)
	n.EffectiveTcpTimeWaitTimeoutSec = proto.Int32(999)
	wait(t)(e.rt.Patch(ctx, &computepb.PatchRouterRequest{Project: testProject, Region: testRegion, Router: "r",
		RouterResource: &computepb.Router{Nats: []*computepb.RouterNat{n}}}))
	if got := get(); got.GetEffectiveTcpTimeWaitTimeoutSec() != 60 || got.GetTcpTimeWaitTimeoutSec() != 60 {
		t.Errorf("after the write-back: effective %d, tcpTimeWait %d; want 60, 60", got.GetEffectiveTcpTimeWaitTimeoutSec(), got.GetTcpTimeWaitTimeoutSec())
	}
}

// TestInstanceDefaults pins the scheduling and Shielded VM fields the
// server fills on an instance whose insert left them out, per the
// reference's defaults: MIGRATE, automatic restart, not preemptible,
// STANDARD; Secure Boot off, vTPM and integrity monitoring on. A
// preemptible VM terminates on maintenance and does not restart; what the
// request sets is kept.
func TestInstanceDefaults(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	std := e.createInstance(t, "std", nil, nil)
	sc, sh := std.GetScheduling(), std.GetShieldedInstanceConfig()
	if sc.GetOnHostMaintenance() != "MIGRATE" || sc.AutomaticRestart == nil || !sc.GetAutomaticRestart() ||
		sc.Preemptible == nil || sc.GetPreemptible() || sc.GetProvisioningModel() != "STANDARD" {
		t.Errorf("standard VM scheduling = %v", sc)
	}
	if sh.EnableSecureBoot == nil || sh.GetEnableSecureBoot() || !sh.GetEnableVtpm() || !sh.GetEnableIntegrityMonitoring() {
		t.Errorf("standard VM shielded config = %v", sh)
	}
	res := instanceResource("spare", nil, nil)
	res.Scheduling = &computepb.Scheduling{Preemptible: proto.Bool(true)}
	res.ShieldedInstanceConfig = &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(true), EnableVtpm: proto.Bool(false)}
	wait(t)(e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: res}))
	spare, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "spare"})
	if err != nil {
		t.Fatal(err)
	}
	sc, sh = spare.GetScheduling(), spare.GetShieldedInstanceConfig()
	if sc.GetOnHostMaintenance() != "TERMINATE" || sc.AutomaticRestart == nil || sc.GetAutomaticRestart() || !sc.GetPreemptible() {
		t.Errorf("preemptible VM scheduling = %v", sc)
	}
	if !sh.GetEnableSecureBoot() || sh.EnableVtpm == nil || sh.GetEnableVtpm() || !sh.GetEnableIntegrityMonitoring() {
		t.Errorf("shielded config as sent, rest filled: %v", sh)
	}
}
