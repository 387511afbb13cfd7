package compute

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	gce "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

func TestInstanceLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")

	op, err := e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone,
		InstanceResource: instanceResource("web-1", map[string]string{"env": "prod"}, nil)})
	done := waitOp(t, op, err)
	if done.GetOperationType() != "insert" || done.GetTargetId() == 0 || done.GetProgress() != 100 {
		t.Errorf("operation = %v, want insert with targetId and progress 100", done)
	}
	inst, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if inst.GetId() != done.GetTargetId() || inst.GetStatus() != "RUNNING" ||
		inst.GetSelfLink() != selfLinkBase+"projects/sandbox-one/zones/us-central1-a/instances/web-1" ||
		inst.GetMetadata().GetFingerprint() == "" || inst.GetLabelFingerprint() == "" || inst.GetTags().GetFingerprint() == "" ||
		inst.GetCreationTimestamp() == "" {
		t.Errorf("instance = %v", inst)
	}
	if ni := inst.GetNetworkInterfaces()[0]; ni.GetNetwork() != selfLinkBase+"projects/sandbox-one/global/networks/default" || ni.GetNetworkIP() == "" {
		t.Errorf("network interface = %v", ni)
	}
	disk, err := e.disk.Get(ctx, &computepb.GetDiskRequest{Project: testProject, Zone: testZone, Disk: "web-1"})
	if err != nil {
		t.Fatalf("boot disk: %v", err)
	}
	if disk.GetSizeGb() != 20 || !slices.Equal(disk.GetUsers(), []string{inst.GetSelfLink()}) || inst.GetDisks()[0].GetSource() != disk.GetSelfLink() {
		t.Errorf("disk = %v, attached = %v", disk, inst.GetDisks()[0])
	}

	for _, step := range []struct {
		name string
		do   func() (*gce.Operation, error)
		want string
	}{
		{"stop", func() (*gce.Operation, error) {
			return e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
		}, "TERMINATED"},
		{"start", func() (*gce.Operation, error) {
			return e.inst.Start(ctx, &computepb.StartInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
		}, "RUNNING"},
	} {
		op, err := step.do()
		if got := waitOp(t, op, err).GetOperationType(); got != step.name {
			t.Errorf("%s: operationType = %q", step.name, got)
		}
		if got, _ := e.srv.Instance(testProject, testZone, "web-1"); got.GetStatus() != step.want {
			t.Errorf("after %s: status = %q, want %q", step.name, got.GetStatus(), step.want)
		}
	}

	wait(t)(e.inst.Delete(ctx, &computepb.DeleteInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"}))
	_, err = e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"})
	if code, reason := apiCode(t, err); code != http.StatusNotFound || reason != "notFound" {
		t.Errorf("get after delete = %d %s, want 404 notFound", code, reason)
	}
	if _, err := e.disk.Get(ctx, &computepb.GetDiskRequest{Project: testProject, Zone: testZone, Disk: "web-1"}); err == nil {
		t.Error("autoDelete boot disk survived its instance")
	}
}

func TestInstanceListFilterAndPaging(t *testing.T) {
	e := newEnv(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "a-1", map[string]string{"env": "prod", "quarantine": "true"}, nil)
	e.createInstance(t, "b-2", map[string]string{"env": "dev"}, nil)
	e.createInstance(t, "c-3", map[string]string{"env": "prod"}, nil)

	tests := []struct {
		filter string
		max    uint32
		want   []string
	}{
		{"", 0, []string{"a-1", "b-2", "c-3"}},
		{"", 1, []string{"a-1", "b-2", "c-3"}},
		{"labels.env = prod", 0, []string{"a-1", "c-3"}},
		{"labels.env = prod", 1, []string{"a-1", "c-3"}},
		{"labels.quarantine:*", 0, []string{"a-1"}},
		{"name = b-2", 0, []string{"b-2"}},
		{"name != b-2", 0, []string{"a-1", "c-3"}},
		{`(labels.env = "prod") AND (status = RUNNING)`, 2, []string{"a-1", "c-3"}},
		{"labels.env = dev OR name = c-3", 0, []string{"b-2", "c-3"}},
		{"NOT labels.quarantine:*", 0, []string{"b-2", "c-3"}},
		{"name eq '.*-[12]'", 0, []string{"a-1", "b-2"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/max=%d", tt.filter, tt.max), func(t *testing.T) {
			req := &computepb.ListInstancesRequest{Project: testProject, Zone: testZone}
			if tt.filter != "" {
				req.Filter = proto.String(tt.filter)
			}
			if tt.max != 0 {
				req.MaxResults = proto.Uint32(tt.max)
			}
			var got []string
			it := e.inst.List(testCtx(t), req)
			for {
				inst, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				got = append(got, inst.GetName())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	it := e.inst.AggregatedList(testCtx(t), &computepb.AggregatedListInstancesRequest{Project: testProject, Filter: proto.String("labels.env = prod")})
	n := 0
	for {
		pair, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("AggregatedList: %v", err)
		}
		if pair.Key != "zones/"+testZone {
			t.Errorf("aggregated key %q", pair.Key)
		}
		n += len(pair.Value.GetInstances())
	}
	if n != 2 {
		t.Errorf("aggregated prod instances = %d, want 2", n)
	}
}

func TestInstanceErrors(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	inst := e.createInstance(t, "web-1", map[string]string{"env": "prod"}, map[string]string{"startup-script": "echo hi"})
	tests := []struct {
		name       string
		call       func() error
		wantCode   int
		wantReason string
	}{
		{"get missing", func() error {
			_, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "nope"})
			return err
		}, 404, "notFound"},
		{"insert duplicate", func() error {
			_, err := e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: instanceResource("web-1", nil, nil)})
			return err
		}, 409, "alreadyExists"},
		{"insert bad name", func() error {
			_, err := e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: instanceResource("Web_1", nil, nil)})
			return err
		}, 400, "invalid"},
		{"insert unknown subnetwork", func() error {
			r := instanceResource("web-2", nil, nil)
			r.NetworkInterfaces[0].Subnetwork = proto.String("regions/us-central1/subnetworks/nope")
			_, err := e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: r})
			return err
		}, 404, "notFound"},
		{"bad zone", func() error {
			_, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: "mars", Instance: "web-1"})
			return err
		}, 400, "invalid"},
		{"setMetadata stale", func() error {
			_, err := e.inst.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
				MetadataResource: &computepb.Metadata{Fingerprint: proto.String("c3RhbGU=")}})
			return err
		}, 412, "conditionNotMet"},
		{"setMetadata no fingerprint", func() error {
			_, err := e.inst.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
				MetadataResource: &computepb.Metadata{}})
			return err
		}, 412, "conditionNotMet"},
		{"setLabels stale", func() error {
			_, err := e.inst.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
				InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{LabelFingerprint: proto.String("c3RhbGU="), Labels: map[string]string{"a": "b"}}})
			return err
		}, 412, "conditionNotMet"},
		{"setLabels bad value", func() error {
			_, err := e.inst.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
				InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{LabelFingerprint: inst.LabelFingerprint, Labels: map[string]string{"a": "UPPER"}}})
			return err
		}, 400, "invalid"},
		{"setTags stale", func() error {
			_, err := e.inst.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
				TagsResource: &computepb.Tags{Fingerprint: proto.String("c3RhbGU="), Items: []string{"quarantine"}}})
			return err
		}, 412, "conditionNotMet"},
		{"stop missing", func() error {
			_, err := e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "nope"})
			return err
		}, 404, "notFound"},
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
	if got, _ := e.srv.Instance(testProject, testZone, "web-1"); !proto.Equal(got, inst) {
		t.Errorf("rejected calls changed the instance:\n got %v\nwant %v", got, inst)
	}
}

func TestFingerprintedSetters(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	inst := e.createInstance(t, "web-1", nil, map[string]string{"a": "1"})

	md := inst.GetMetadata()
	md.Items = append(md.Items, &computepb.Items{Key: proto.String("quarantine"), Value: proto.String("true")})
	wait(t)(e.inst.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", MetadataResource: md}))
	wait(t)(e.inst.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
		InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{LabelFingerprint: inst.LabelFingerprint, Labels: map[string]string{"quarantine": "true"}}}))
	wait(t)(e.inst.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1",
		TagsResource: &computepb.Tags{Fingerprint: inst.GetTags().Fingerprint, Items: []string{"quarantine"}}}))

	got, _ := e.srv.Instance(testProject, testZone, "web-1")
	if len(got.GetMetadata().GetItems()) != 2 || got.GetLabels()["quarantine"] != "true" || !slices.Equal(got.GetTags().GetItems(), []string{"quarantine"}) {
		t.Errorf("instance after setters = %v", got)
	}
	if got.GetMetadata().GetFingerprint() == md.GetFingerprint() || got.GetLabelFingerprint() == inst.GetLabelFingerprint() ||
		got.GetTags().GetFingerprint() == inst.GetTags().GetFingerprint() {
		t.Error("fingerprints did not change")
	}
	// The fingerprint just used is now stale.
	_, err := e.inst.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", MetadataResource: md})
	if code, _ := apiCode(t, err); code != http.StatusPreconditionFailed {
		t.Errorf("reused fingerprint: code %d, want 412", code)
	}
}

func TestRequestIDReplay(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	const rid = "3f1e4c1a-8f2b-4d47-9a3e-2b1f0c5d6e7f"
	req := &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, RequestId: proto.String(rid),
		InstanceResource: instanceResource("web-1", nil, nil)}
	first, err := e.inst.Insert(ctx, req)
	if err != nil {
		t.Fatalf("first insert: %v", err)
	}
	second, err := e.inst.Insert(ctx, req)
	if err != nil {
		t.Fatalf("replayed insert: %v", err)
	}
	if first.Name() != second.Name() {
		t.Errorf("replay returned operation %s, want %s", second.Name(), first.Name())
	}
	// The replay's own answer shows the first operation as it is now
	// (under the compressed profile, already DONE).
	if err := second.Wait(ctx); err != nil {
		t.Fatalf("wait for replayed operation: %v", err)
	}
	if got := e.inj.Mutations("compute.instances.insert"); got != 2 {
		t.Errorf("insert mutations counted = %d, want 2", got)
	}
	if n := len(e.srv.Instances(testProject)); n != 1 {
		t.Errorf("instances = %d, want 1", n)
	}
	// After the operation is done a replay reports it done too.
	third, err := e.inst.Insert(ctx, req)
	if err != nil || third.Proto().GetStatus() != computepb.Operation_DONE {
		t.Errorf("replay after done: %v, %v", third.Proto().GetStatus(), err)
	}
	// Another project may use the same request id.
	e.createNetwork(t, "sandbox-two", "default", "10.128.0.0/20")
	other := proto.Clone(req).(*computepb.InsertInstanceRequest)
	other.Project = "sandbox-two"
	wait(t)(e.inst.Insert(ctx, other))
	if n := len(e.srv.Instances("sandbox-two")); n != 1 {
		t.Errorf("sandbox-two instances = %d, want 1", n)
	}
	req.RequestId = nil
	if _, err := e.inst.Insert(ctx, req); err == nil {
		t.Error("insert without requestId of an existing name succeeded")
	} else if code, _ := apiCode(t, err); code != http.StatusConflict {
		t.Errorf("code %d, want 409", code)
	}
}

func TestInjectedFaults(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	inst := e.createInstance(t, "web-1", nil, map[string]string{"a": "1"})

	t.Run("503 on insert is returned", func(t *testing.T) {
		e.inj.FailNext("compute.instances.insert", 1, faults.Fault{Code: codes.Unavailable})
		_, err := e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: instanceResource("web-2", nil, nil)})
		if code, reason := apiCode(t, err); code != http.StatusServiceUnavailable || reason != "backendError" {
			t.Errorf("got %d %s, want 503 backendError", code, reason)
		}
		if _, ok := e.srv.Instance(testProject, testZone, "web-2"); ok {
			t.Error("failed insert created the instance")
		}
	})
	t.Run("503 on get is retried by the client", func(t *testing.T) {
		before := e.inj.Calls("compute.instances.get")
		e.inj.FailNext("compute.instances.get", 1, faults.Fault{Code: codes.Unavailable})
		if _, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"}); err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got := e.inj.Calls("compute.instances.get") - before; got != 2 {
			t.Errorf("get calls = %d, want 2", got)
		}
	})
	codesToHTTP := []struct {
		code codes.Code
		want int
	}{
		{codes.NotFound, 404}, {codes.AlreadyExists, 409}, {codes.FailedPrecondition, 412}, {codes.ResourceExhausted, 429},
		{codes.Internal, 500}, {codes.PermissionDenied, 403}, {codes.InvalidArgument, 400},
	}
	for _, tt := range codesToHTTP {
		t.Run("setMetadata "+tt.code.String(), func(t *testing.T) {
			e.inj.FailNext("compute.instances.setMetadata", 1, faults.Fault{Code: tt.code})
			_, err := e.inst.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", MetadataResource: inst.GetMetadata()})
			if code, _ := apiCode(t, err); code != tt.want {
				t.Errorf("got %d, want %d", code, tt.want)
			}
		})
	}
	t.Run("operation error surfaces through Wait", func(t *testing.T) {
		e.inj.FailNext("compute.instances.setMetadata", 1, faults.Fault{OperationError: true, Message: "disk on fire"})
		md := proto.Clone(inst.GetMetadata()).(*computepb.Metadata)
		md.Items = nil
		op, err := e.inst.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", MetadataResource: md})
		if err != nil {
			t.Fatalf("SetMetadata was not accepted: %v", err)
		}
		err = op.Wait(ctx)
		if code, _ := apiCode(t, err); code != http.StatusInternalServerError {
			t.Errorf("Wait error code %d, want 500 (%v)", code, err)
		}
		p := op.Proto()
		if !op.Done() || p.GetHttpErrorStatusCode() != 500 || len(p.GetError().GetErrors()) != 1 || p.GetError().GetErrors()[0].GetMessage() != "disk on fire" {
			t.Errorf("operation = %v", p)
		}
		if got, _ := e.srv.Instance(testProject, testZone, "web-1"); !proto.Equal(got, inst) {
			t.Error("failed operation changed the instance")
		}
	})
}

// TestConcurrentRequests runs 1,000 requests at once: inserts, gets and
// label changes must neither race nor lose updates.
func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	const n = 250
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("vm-%d", i)
			op, err := e.inst.Insert(ctx, &computepb.InsertInstanceRequest{Project: testProject, Zone: testZone, InstanceResource: instanceResource(name, nil, nil)})
			if err != nil {
				errs <- err
				return
			}
			if err := op.Wait(ctx); err != nil {
				errs <- err
				return
			}
			var wg2 sync.WaitGroup
			for range 3 {
				wg2.Add(1)
				go func() {
					defer wg2.Done()
					if _, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: testProject, Zone: testZone, Instance: name}); err != nil {
						errs <- err
					}
				}()
			}
			wg2.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call: %v", err)
	}
	if got := len(e.srv.Instances(testProject)); got != n {
		t.Errorf("instances = %d, want %d", got, n)
	}
	ids := map[uint64]bool{}
	for _, inst := range e.srv.Instances(testProject) {
		ids[inst.GetId()] = true
	}
	if len(ids) != n {
		t.Errorf("unique ids = %d, want %d", len(ids), n)
	}
}

func TestSeedInstance(t *testing.T) {
	e := newEnv(t)
	seeded := e.srv.SeedInstance("sandbox-seed", testZone, &computepb.Instance{Name: proto.String("legacy"), Labels: map[string]string{"team": "x"}})
	if seeded.GetId() == 0 || seeded.GetStatus() != "RUNNING" || seeded.GetMetadata().GetFingerprint() == "" {
		t.Errorf("seeded = %v", seeded)
	}
	if e.inj.TotalCalls() != 0 {
		t.Errorf("seeding counted %d calls", e.inj.TotalCalls())
	}
	got, err := e.inst.Get(testCtx(t), &computepb.GetInstanceRequest{Project: "sandbox-seed", Zone: testZone, Instance: "legacy"})
	if err != nil || !proto.Equal(got, seeded) {
		t.Fatalf("Get seeded = %v, %v", got, err)
	}
	if _, err := e.disk.Get(testCtx(t), &computepb.GetDiskRequest{Project: "sandbox-seed", Zone: testZone, Disk: "legacy"}); err != nil {
		t.Errorf("seeded boot disk: %v", err)
	}
}

// TestRequestIDMustBeUUID pins that the API refuses a requestId that is
// not a UUID, or is the zero UUID, with 400 and changes nothing.
func TestRequestIDMustBeUUID(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, nil)
	cases := []struct {
		rid  string
		want int
	}{
		{"coopguard-stop-1", http.StatusBadRequest},
		{"00000000-0000-0000-0000-000000000000", http.StatusBadRequest},
		{"3f1e4c1a8f2b4d479a3e2b1f0c5d6e7f", http.StatusBadRequest},
		{"{3f1e4c1a-8f2b-4d47-9a3e-2b1f0c5d6e7f}", http.StatusBadRequest},
		{"3f1e4c1a-8f2b-4d47-9a3e-2b1f0c5d6e7f", http.StatusOK},
	}
	for _, tc := range cases {
		_, err := e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", RequestId: proto.String(tc.rid)})
		code := http.StatusOK
		if err != nil {
			code, _ = apiCode(t, err)
		}
		if code != tc.want {
			t.Errorf("requestId %q: %d, want %d", tc.rid, code, tc.want)
		}
		if inst, _ := e.srv.Instance(testProject, testZone, "web-1"); tc.want != http.StatusOK && inst.GetStatus() != "RUNNING" {
			t.Errorf("requestId %q refused but the VM is %s", tc.rid, inst.GetStatus())
		}
	}
}

// TestNumericIDsInPaths pins that instance paths take the instance's
// numeric id in place of its name, and every path takes the project
// number in place of its id, as the API's path patterns allow.
func TestNumericIDsInPaths(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	want := e.createInstance(t, "web-1", nil, nil)
	id := strconv.FormatUint(want.GetId(), 10)
	number := strconv.FormatInt(resourcemanager.ProjectNumber(testProject), 10)
	cases := []struct {
		project, instance string
		wantCode          int
	}{
		{testProject, "web-1", http.StatusOK},
		{testProject, id, http.StatusOK},
		{number, "web-1", http.StatusOK},
		{number, id, http.StatusOK},
		{testProject, "1234", http.StatusNotFound},
		{"123456789012", "web-1", http.StatusNotFound},
	}
	for _, tc := range cases {
		got, err := e.inst.Get(ctx, &computepb.GetInstanceRequest{Project: tc.project, Zone: testZone, Instance: tc.instance})
		code := http.StatusOK
		if err != nil {
			code, _ = apiCode(t, err)
		}
		if code != tc.wantCode {
			t.Errorf("get projects/%s/.../instances/%s: %d, want %d", tc.project, tc.instance, code, tc.wantCode)
			continue
		}
		if err == nil && got.GetSelfLink() != want.GetSelfLink() {
			t.Errorf("get projects/%s/.../instances/%s: selfLink %s, want %s", tc.project, tc.instance, got.GetSelfLink(), want.GetSelfLink())
		}
	}
	// A mutation by id and number acts on the named instance.
	wait(t)(e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: number, Zone: testZone, Instance: id}))
	if inst, _ := e.srv.Instance(testProject, testZone, "web-1"); inst.GetStatus() != "TERMINATED" {
		t.Errorf("stop by number and id: VM is %s", inst.GetStatus())
	}
}
