package compute

import (
	"net/http"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// names drains a list iterator into resource names.
func names[T interface{ GetName() string }](t *testing.T, next func() (T, error)) []string {
	t.Helper()
	var out []string
	for {
		v, err := next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		out = append(out, v.GetName())
	}
}

func TestNetworksAndSubnetworks(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "sandbox", "10.10.0.0/24")

	n, ok := e.srv.Network(testProject, "sandbox")
	if !ok || len(n.GetSubnetworks()) != 1 || n.GetRoutingConfig().GetRoutingMode() != "REGIONAL" {
		t.Fatalf("Network = %v, %v", n, ok)
	}
	got, err := e.net.Get(ctx, &computepb.GetNetworkRequest{Project: testProject, Network: "sandbox"})
	if err != nil || !proto.Equal(got, n) {
		t.Fatalf("Get network = %v, %v", got, err)
	}
	if l := names(t, e.net.List(ctx, &computepb.ListNetworksRequest{Project: testProject}).Next); !slices.Equal(l, []string{"sandbox"}) {
		t.Errorf("networks = %v", l)
	}
	sub, err := e.sub.Get(ctx, &computepb.GetSubnetworkRequest{Project: testProject, Region: testRegion, Subnetwork: "sandbox-us-central1"})
	if err != nil || sub.GetGatewayAddress() != "10.10.0.1" || sub.GetNetwork() != n.GetSelfLink() {
		t.Fatalf("Get subnetwork = %v, %v", sub, err)
	}
	sub.PrivateIpGoogleAccess = proto.Bool(true)
	wait(t)(e.sub.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: testProject, Region: testRegion, Subnetwork: "sandbox-us-central1", SubnetworkResource: sub}))
	if l := names(t, e.sub.List(ctx, &computepb.ListSubnetworksRequest{Project: testProject, Region: testRegion}).Next); !slices.Equal(l, []string{"sandbox-us-central1"}) {
		t.Errorf("subnetworks = %v", l)
	}

	tests := []struct {
		name       string
		call       func() error
		wantCode   int
		wantReason string
	}{
		{"network duplicate", func() error {
			_, err := e.net.Insert(ctx, &computepb.InsertNetworkRequest{Project: testProject, NetworkResource: &computepb.Network{Name: proto.String("sandbox")}})
			return err
		}, 409, "alreadyExists"},
		{"network bad name", func() error {
			_, err := e.net.Insert(ctx, &computepb.InsertNetworkRequest{Project: testProject, NetworkResource: &computepb.Network{Name: proto.String("-bad")}})
			return err
		}, 400, "invalid"},
		{"subnetwork unknown network", func() error {
			_, err := e.sub.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: testProject, Region: testRegion, SubnetworkResource: &computepb.Subnetwork{
				Name: proto.String("x"), Network: proto.String("global/networks/nope"), IpCidrRange: proto.String("10.20.0.0/24")}})
			return err
		}, 404, "notFound"},
		{"subnetwork overlapping range", func() error {
			_, err := e.sub.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: testProject, Region: testRegion, SubnetworkResource: &computepb.Subnetwork{
				Name: proto.String("x"), Network: proto.String("global/networks/sandbox"), IpCidrRange: proto.String("10.10.0.128/25")}})
			return err
		}, 400, "invalid"},
		{"subnetwork patch stale fingerprint", func() error {
			_, err := e.sub.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: testProject, Region: testRegion, Subnetwork: "sandbox-us-central1", SubnetworkResource: sub})
			return err
		}, 412, "conditionNotMet"},
		{"network in use", func() error {
			_, err := e.net.Delete(ctx, &computepb.DeleteNetworkRequest{Project: testProject, Network: "sandbox"})
			return err
		}, 400, "resourceInUseByAnotherResource"},
		{"firewall unknown network", func() error {
			_, err := e.fw.Insert(ctx, &computepb.InsertFirewallRequest{Project: testProject, FirewallResource: &computepb.Firewall{
				Name: proto.String("fw"), Network: proto.String("global/networks/nope"), Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}}})
			return err
		}, 404, "notFound"},
		{"router unknown network", func() error {
			_, err := e.rt.Insert(ctx, &computepb.InsertRouterRequest{Project: testProject, Region: testRegion, RouterResource: &computepb.Router{
				Name: proto.String("rt"), Network: proto.String("global/networks/nope")}})
			return err
		}, 404, "notFound"},
		{"project invalid", func() error {
			_, err := e.net.Get(ctx, &computepb.GetNetworkRequest{Project: "Bad_Project", Network: "sandbox"})
			return err
		}, 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatalf("want %d, got success", tt.wantCode)
			}
			if code, reason := apiCode(t, err); code != tt.wantCode || reason != tt.wantReason {
				t.Errorf("got %d %s, want %d %s", code, reason, tt.wantCode, tt.wantReason)
			}
		})
	}

	wait(t)(e.sub.Delete(ctx, &computepb.DeleteSubnetworkRequest{Project: testProject, Region: testRegion, Subnetwork: "sandbox-us-central1"}))
	wait(t)(e.net.Delete(ctx, &computepb.DeleteNetworkRequest{Project: testProject, Network: "sandbox"}))
	if _, ok := e.srv.Network(testProject, "sandbox"); ok {
		t.Error("network survived delete")
	}
}

func TestFirewalls(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "sandbox", "10.10.0.0/24")
	op := wait(t)(e.fw.Insert(ctx, &computepb.InsertFirewallRequest{Project: testProject, FirewallResource: &computepb.Firewall{
		Name:       proto.String("quarantine-deny-egress"),
		Network:    proto.String("projects/sandbox-one/global/networks/sandbox"),
		Direction:  proto.String("EGRESS"),
		Priority:   proto.Int32(10),
		Denied:     []*computepb.Denied{{IPProtocol: proto.String("all")}},
		TargetTags: []string{"quarantine"},
	}}))
	if op.GetOperationType() != "insert" || op.GetZone() != "" || op.GetRegion() != "" {
		t.Errorf("global operation = %v", op)
	}
	fw, err := e.fw.Get(ctx, &computepb.GetFirewallRequest{Project: testProject, Firewall: "quarantine-deny-egress"})
	if err != nil || fw.GetPriority() != 10 || !slices.Equal(fw.GetDestinationRanges(), []string{"0.0.0.0/0"}) ||
		fw.GetNetwork() != selfLinkBase+"projects/sandbox-one/global/networks/sandbox" {
		t.Fatalf("Get firewall = %v, %v", fw, err)
	}
	wait(t)(e.fw.Patch(ctx, &computepb.PatchFirewallRequest{Project: testProject, Firewall: "quarantine-deny-egress",
		FirewallResource: &computepb.Firewall{Disabled: proto.Bool(true)}}))
	fws := e.srv.Firewalls(testProject)
	if len(fws) != 1 || !fws[0].GetDisabled() || fws[0].GetPriority() != 10 {
		t.Errorf("after patch = %v", fws)
	}
	wait(t)(e.fw.Update(ctx, &computepb.UpdateFirewallRequest{Project: testProject, Firewall: "quarantine-deny-egress",
		FirewallResource: &computepb.Firewall{Name: proto.String("quarantine-deny-egress"), Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}}}))
	fw, _ = e.fw.Get(ctx, &computepb.GetFirewallRequest{Project: testProject, Firewall: "quarantine-deny-egress"})
	if fw.GetPriority() != 1000 || fw.GetDirection() != "INGRESS" || len(fw.GetDenied()) != 0 || fw.GetId() != fws[0].GetId() {
		t.Errorf("after update = %v", fw)
	}
	if l := names(t, e.fw.List(ctx, &computepb.ListFirewallsRequest{Project: testProject, Filter: proto.String("direction = INGRESS")}).Next); !slices.Equal(l, []string{"quarantine-deny-egress"}) {
		t.Errorf("firewalls = %v", l)
	}
	wait(t)(e.fw.Delete(ctx, &computepb.DeleteFirewallRequest{Project: testProject, Firewall: "quarantine-deny-egress"}))
	if len(e.srv.Firewalls(testProject)) != 0 {
		t.Error("firewall survived delete")
	}
}

func TestRoutersNAT(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "sandbox", "10.10.0.0/24")
	op := wait(t)(e.rt.Insert(ctx, &computepb.InsertRouterRequest{Project: testProject, Region: testRegion, RouterResource: &computepb.Router{
		Name: proto.String("nat-router"), Network: proto.String("global/networks/sandbox"),
	}}))
	if op.GetRegion() != selfLinkBase+"projects/sandbox-one/regions/us-central1" {
		t.Errorf("regional operation = %v", op)
	}
	nat := &computepb.RouterNat{
		Name:                          proto.String("egress"),
		NatIpAllocateOption:           proto.String("AUTO_ONLY"),
		SourceSubnetworkIpRangesToNat: proto.String("ALL_SUBNETWORKS_ALL_IP_RANGES"),
	}
	wait(t)(e.rt.Patch(ctx, &computepb.PatchRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router",
		RouterResource: &computepb.Router{Nats: []*computepb.RouterNat{nat}}}))
	rt, err := e.rt.Get(ctx, &computepb.GetRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router"})
	// The server fills fields the patch left out (TestRouterNATServerFilled).
	want := proto.Clone(nat).(*computepb.RouterNat)
	fillNats(&computepb.Router{Nats: []*computepb.RouterNat{want}})
	if err != nil || len(rt.GetNats()) != 1 || !proto.Equal(rt.GetNats()[0], want) || rt.GetNetwork() != selfLinkBase+"projects/sandbox-one/global/networks/sandbox" {
		t.Fatalf("router = %v, %v", rt, err)
	}
	_, err = e.rt.Patch(ctx, &computepb.PatchRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router",
		RouterResource: &computepb.Router{Nats: []*computepb.RouterNat{{Name: proto.String("bad")}}}})
	if code, _ := apiCode(t, err); code != http.StatusBadRequest {
		t.Errorf("NAT without options: %d, want 400", code)
	}
	if l := names(t, e.rt.List(ctx, &computepb.ListRoutersRequest{Project: testProject, Region: testRegion}).Next); !slices.Equal(l, []string{"nat-router"}) {
		t.Errorf("routers = %v", l)
	}
	wait(t)(e.rt.Delete(ctx, &computepb.DeleteRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router"}))
	_, err = e.rt.Get(ctx, &computepb.GetRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router"})
	if code, _ := apiCode(t, err); code != http.StatusNotFound {
		t.Errorf("get deleted router: %d", code)
	}
}

func TestDisksAndSnapshots(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	inst := e.createInstance(t, "web-1", nil, nil)
	if l := names(t, e.disk.List(ctx, &computepb.ListDisksRequest{Project: testProject, Zone: testZone}).Next); !slices.Equal(l, []string{"web-1"}) {
		t.Errorf("disks = %v", l)
	}
	op := wait(t)(e.disk.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: testProject, Zone: testZone, Disk: "web-1",
		SnapshotResource: &computepb.Snapshot{Name: proto.String("forensic-web-1"), Labels: map[string]string{"incident": "i-1"}}}))
	if op.GetOperationType() != "createSnapshot" || op.GetTargetLink() != inst.GetDisks()[0].GetSource() {
		t.Errorf("createSnapshot operation = %v", op)
	}
	snap, err := e.snap.Get(ctx, &computepb.GetSnapshotRequest{Project: testProject, Snapshot: "forensic-web-1"})
	if err != nil || snap.GetSourceDisk() != inst.GetDisks()[0].GetSource() || snap.GetStatus() != "READY" || snap.GetLabels()["incident"] != "i-1" {
		t.Fatalf("snapshot = %v, %v", snap, err)
	}
	_, err = e.disk.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: testProject, Zone: testZone, Disk: "web-1",
		SnapshotResource: &computepb.Snapshot{Name: proto.String("forensic-web-1")}})
	if code, _ := apiCode(t, err); code != http.StatusConflict {
		t.Errorf("duplicate snapshot: %d, want 409", code)
	}
	_, err = e.disk.Delete(ctx, &computepb.DeleteDiskRequest{Project: testProject, Zone: testZone, Disk: "web-1"})
	if code, reason := apiCode(t, err); code != http.StatusBadRequest || reason != "resourceInUseByAnotherResource" {
		t.Errorf("delete attached disk: %d %s", code, reason)
	}
	if l := names(t, e.snap.List(ctx, &computepb.ListSnapshotsRequest{Project: testProject}).Next); !slices.Equal(l, []string{"forensic-web-1"}) {
		t.Errorf("snapshots = %v", l)
	}
	if s := e.srv.Snapshots(testProject); len(s) != 1 {
		t.Errorf("Snapshots() = %v", s)
	}
	wait(t)(e.snap.Delete(ctx, &computepb.DeleteSnapshotRequest{Project: testProject, Snapshot: "forensic-web-1"}))
	if s := e.srv.Snapshots(testProject); len(s) != 0 {
		t.Errorf("after delete Snapshots() = %v", s)
	}
}

func TestOperations(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	op, err := e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: instanceResource("web-1", nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.zops.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: testProject, Zone: testZone, Operation: op.Name()})
	if err != nil || done.GetStatus() != computepb.Operation_DONE || done.GetUser() == "" || done.GetInsertTime() == "" {
		t.Fatalf("wait = %v, %v", done, err)
	}
	_, err = e.zops.Get(ctx, &computepb.GetZoneOperationRequest{Project: testProject, Zone: testZone, Operation: "operation-unknown"})
	if code, _ := apiCode(t, err); code != http.StatusNotFound {
		t.Errorf("unknown operation: %d, want 404", code)
	}
	_, err = e.zops.Get(ctx, &computepb.GetZoneOperationRequest{Project: testProject, Zone: "us-east1-b", Operation: op.Name()})
	if code, _ := apiCode(t, err); code != http.StatusNotFound {
		t.Errorf("operation in another zone: %d, want 404", code)
	}
	for _, m := range []string{"compute.zoneOperations.wait", "compute.globalOperations.get", "compute.regionOperations.get"} {
		if e.inj.Calls(m) == 0 {
			t.Errorf("no calls counted for %s", m)
		}
	}
}

// TestRouterNATLogConfig: a NAT keeps its logConfig (enable, filter) as
// written; filter takes ALL, ERRORS_ONLY or TRANSLATIONS_ONLY, or nothing,
// and any other value is a 400 (routers API reference, RouterNatLogConfig).
func TestRouterNATLogConfig(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "sandbox", "10.10.0.0/24")
	wait(t)(e.rt.Insert(ctx, &computepb.InsertRouterRequest{Project: testProject, Region: testRegion, RouterResource: &computepb.Router{
		Name: proto.String("nat-router"), Network: proto.String("global/networks/sandbox"),
	}}))
	tests := []struct {
		name   string
		config *computepb.RouterNatLogConfig
		code   int
	}{
		{"all", &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("ALL")}, http.StatusOK},
		{"errors only", &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("ERRORS_ONLY")}, http.StatusOK},
		{"translations only", &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("TRANSLATIONS_ONLY")}, http.StatusOK},
		{"off, no filter", &computepb.RouterNatLogConfig{Enable: proto.Bool(false)}, http.StatusOK},
		{"unknown filter", &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("EVERYTHING")}, http.StatusBadRequest},
		{"lower case", &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("all")}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nat := &computepb.RouterNat{Name: proto.String("egress"), NatIpAllocateOption: proto.String("AUTO_ONLY"),
				SourceSubnetworkIpRangesToNat: proto.String("ALL_SUBNETWORKS_ALL_IP_RANGES"), LogConfig: tt.config}
			op, err := e.rt.Patch(ctx, &computepb.PatchRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router",
				RouterResource: &computepb.Router{Nats: []*computepb.RouterNat{nat}}})
			if tt.code != http.StatusOK {
				if code, _ := apiCode(t, err); code != tt.code {
					t.Fatalf("patch: %d (%v), want %d", code, err, tt.code)
				}
				return
			}
			if err == nil {
				err = op.Wait(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			rt, err := e.rt.Get(ctx, &computepb.GetRouterRequest{Project: testProject, Region: testRegion, Router: "nat-router"})
			if err != nil || len(rt.GetNats()) != 1 || !proto.Equal(rt.GetNats()[0].GetLogConfig(), tt.config) {
				t.Fatalf("logConfig = %v (%v), want %v", rt.GetNats(), err, tt.config)
			}
		})
	}
}
