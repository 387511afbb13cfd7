package compute

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	gce "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

const (
	testProject = "sandbox-one"
	testZone    = "us-central1-a"
	testRegion  = "us-central1"
)

// env is one fake on loopback with official REST clients pointed at it.
type env struct {
	srv  *Server
	inj  *faults.Injector
	url  string
	inst *gce.InstancesClient
	disk *gce.DisksClient
	snap *gce.SnapshotsClient
	net  *gce.NetworksClient
	sub  *gce.SubnetworksClient
	fw   *gce.FirewallsClient
	rt   *gce.RoutersClient
	zops *gce.ZoneOperationsClient
}

// newEnv starts a fake for one test; everything is shut down by t.Cleanup.
func newEnv(t *testing.T) *env {
	t.Helper()
	inj := faults.New()
	srv := New(inj)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(hs.URL), option.WithoutAuthentication()}
	e := &env{srv: srv, inj: inj, url: hs.URL}
	var err error
	must := func(c interface{ Close() error }) {
		t.Helper()
		if err != nil {
			t.Fatalf("new client: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	e.inst, err = gce.NewInstancesRESTClient(ctx, opts...)
	must(e.inst)
	e.disk, err = gce.NewDisksRESTClient(ctx, opts...)
	must(e.disk)
	e.snap, err = gce.NewSnapshotsRESTClient(ctx, opts...)
	must(e.snap)
	e.net, err = gce.NewNetworksRESTClient(ctx, opts...)
	must(e.net)
	e.sub, err = gce.NewSubnetworksRESTClient(ctx, opts...)
	must(e.sub)
	e.fw, err = gce.NewFirewallsRESTClient(ctx, opts...)
	must(e.fw)
	e.rt, err = gce.NewRoutersRESTClient(ctx, opts...)
	must(e.rt)
	e.zops, err = gce.NewZoneOperationsRESTClient(ctx, opts...)
	must(e.zops)
	return e
}

// projects returns a projects client on the fake.
func (e *env) projects(t *testing.T) *gce.ProjectsClient {
	t.Helper()
	c, err := gce.NewProjectsRESTClient(context.Background(), option.WithEndpoint(e.url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ctx returns a context that ends with the test or after a deadline, so
// a hung call fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wait returns a function that waits for a mutation's operation and fails
// the test on any error; it takes the mutation's results directly, as in
// wait(t)(client.Insert(ctx, req)).
func wait(t *testing.T) func(*gce.Operation, error) *computepb.Operation {
	t.Helper()
	return func(op *gce.Operation, err error) *computepb.Operation {
		t.Helper()
		return waitOp(t, op, err)
	}
}

// waitOp waits for op after checking the mutation's error.
func waitOp(t *testing.T, op *gce.Operation, err error) *computepb.Operation {
	t.Helper()
	if err != nil {
		t.Fatalf("mutation: %v", err)
	}
	if got := op.Proto().GetStatus(); got != computepb.Operation_RUNNING {
		t.Fatalf("new operation status = %v, want RUNNING", got)
	}
	if err := op.Wait(testCtx(t)); err != nil {
		t.Fatalf("op.Wait: %v", err)
	}
	if !op.Done() {
		t.Fatalf("operation %s not done after Wait", op.Name())
	}
	return op.Proto()
}

// apiCode returns the HTTP code and first reason of an API error.
func apiCode(t *testing.T, err error) (int, string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a googleapi.Error", err, err)
	}
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	return ge.Code, reason
}

// createNetwork makes a custom-mode network with one subnetwork.
func (e *env) createNetwork(t *testing.T, project, name, cidr string) {
	t.Helper()
	ctx := testCtx(t)
	wait(t)(e.net.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String(name), AutoCreateSubnetworks: proto.Bool(false),
	}}))
	wait(t)(e.sub.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: project, Region: testRegion, SubnetworkResource: &computepb.Subnetwork{
		Name: proto.String(name + "-" + testRegion), Network: proto.String("global/networks/" + name), IpCidrRange: proto.String(cidr),
	}}))
}

// createInstance inserts a VM on network "default" and waits for it.
func (e *env) createInstance(t *testing.T, name string, labels map[string]string, items map[string]string) *computepb.Instance {
	t.Helper()
	ctx := testCtx(t)
	md := &computepb.Metadata{}
	for k, v := range items {
		md.Items = append(md.Items, &computepb.Items{Key: proto.String(k), Value: proto.String(v)})
	}
	wait(t)(e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: instanceResource(name, labels, md)}))
	got, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: name})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return got
}

// instanceResource is a minimal valid instance body.
func instanceResource(name string, labels map[string]string, md *computepb.Metadata) *computepb.Instance {
	return &computepb.Instance{
		Name:        proto.String(name),
		MachineType: proto.String("zones/" + testZone + "/machineTypes/e2-small"),
		Labels:      labels,
		Metadata:    md,
		Disks: []*computepb.AttachedDisk{{
			Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12"), DiskSizeGb: proto.Int64(20)},
		}},
		NetworkInterfaces: []*computepb.NetworkInterface{{Subnetwork: proto.String("regions/" + testRegion + "/subnetworks/default-" + testRegion)}},
	}
}
