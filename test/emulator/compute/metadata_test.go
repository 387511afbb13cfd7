package compute

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/protobuf/proto"
)

// metadataEnv starts the metadata server of one VM on loopback.
func metadataEnv(t *testing.T, e *env, instance string) string {
	t.Helper()
	hs := httptest.NewServer(e.srv.MetadataHandler(testProject, testZone, instance))
	t.Cleanup(hs.Close)
	return hs.URL
}

// mdResult is one metadata response.
type mdResult struct {
	code int
	body string
	etag string
	err  error
}

// mdGet asks the metadata server like a guest would.
func mdGet(ctx context.Context, base, path string, flavor bool) mdResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return mdResult{err: err}
	}
	if flavor {
		req.Header.Set("Metadata-Flavor", "Google")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return mdResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return mdResult{code: resp.StatusCode, body: string(b), etag: resp.Header.Get("ETag"), err: err}
}

func TestMetadataServer(t *testing.T) {
	e := newEnv(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	inst := e.createInstance(t, "web-1", nil, map[string]string{"coopguard-command": "idle"})
	base := metadataEnv(t, e, "web-1")
	ctx := testCtx(t)

	tests := []struct {
		path     string
		flavor   bool
		wantCode int
		wantBody string
	}{
		{"/computeMetadata/v1/instance/attributes/coopguard-command", true, 200, "idle"},
		{"/computeMetadata/v1/instance/attributes/coopguard-command", false, 403, ""},
		{"/computeMetadata/v1/instance/attributes/missing", true, 404, ""},
		{"/computeMetadata/v1/instance/attributes/", true, 200, "coopguard-command\n"},
		{"/computeMetadata/v1/instance/id", true, 200, strconv.FormatUint(inst.GetId(), 10)},
		{"/computeMetadata/v1/instance/name", true, 200, "web-1"},
		{"/computeMetadata/v1/project/project-id", true, 200, testProject},
		{"/computeMetadata/v1/instance/hostname", true, 200, "web-1.us-central1-a.c.sandbox-one.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := mdGet(ctx, base, tt.path, tt.flavor)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.code != tt.wantCode || (tt.wantBody != "" && r.body != tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", r.code, r.body, tt.wantCode, tt.wantBody)
			}
		})
	}
	if r := mdGet(ctx, base, "/computeMetadata/v1/instance/zone", true); !strings.HasSuffix(r.body, "/zones/"+testZone) {
		t.Errorf("zone = %q", r.body)
	}
}

func TestMetadataLongPollWokenBySetMetadata(t *testing.T) {
	e := newEnv(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, map[string]string{"coopguard-command": "idle"})
	base := metadataEnv(t, e, "web-1")
	ctx := testCtx(t)
	const path = "/computeMetadata/v1/instance/attributes/coopguard-command"

	first := mdGet(ctx, base, path, true)
	if first.code != 200 || first.etag == "" {
		t.Fatalf("first read = %+v", first)
	}
	polled := make(chan mdResult, 1)
	go func() {
		polled <- mdGet(ctx, base, path+"?wait_for_change=true&last_etag="+first.etag, true)
	}()
	// The value has not changed, so the poll must still be waiting.
	select {
	case r := <-polled:
		t.Fatalf("long poll answered before any change: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}

	inst, _ := e.srv.Instance(testProject, testZone, "web-1")
	md := inst.GetMetadata()
	md.Items[0].Value = proto.String("isolate")
	wait(t)(e.inst.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", MetadataResource: md}))

	select {
	case r := <-polled:
		if r.err != nil || r.code != 200 || r.body != "isolate" || r.etag == first.etag {
			t.Errorf("long poll = %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("long poll not woken by setMetadata")
	}

	// A stale last_etag answers at once with the current value.
	if r := mdGet(ctx, base, path+"?wait_for_change=true&last_etag="+first.etag, true); r.body != "isolate" {
		t.Errorf("stale etag poll = %+v", r)
	}
	// timeout_sec ends an unanswered poll with the current value.
	cur := mdGet(ctx, base, path, true)
	if r := mdGet(ctx, base, path+"?wait_for_change=true&timeout_sec=1&last_etag="+cur.etag, true); r.code != 200 || r.body != "isolate" || r.etag != cur.etag {
		t.Errorf("timed-out poll = %+v", r)
	}
}

func TestGuestAttributes(t *testing.T) {
	e := newEnv(t)
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.srv.SetClock(clk.Now)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, map[string]string{"enable-guest-attributes": "TRUE"})
	base := metadataEnv(t, e, "web-1")
	ctx := testCtx(t)
	// Stay within the read limit: one read per 6 s.
	e.inj.OnCall(func(method string) {
		if method == "compute.instances.getGuestAttributes" {
			clk.Advance(guestReadEvery)
		}
	})

	_, err := e.inst.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", QueryPath: proto.String("coopguard/")})
	if code, _ := apiCode(t, err); code != http.StatusNotFound {
		t.Errorf("no attributes yet: %d, want 404", code)
	}

	put := func(path, value string, flavor bool) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/computeMetadata/v1/instance/guest-attributes/"+path, strings.NewReader(value))
		if err != nil {
			t.Fatal(err)
		}
		if flavor {
			req.Header.Set("Metadata-Flavor", "Google")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put("coopguard/ack", "cmd-1", false); code != http.StatusForbidden {
		t.Errorf("PUT without flavor: %d, want 403", code)
	}
	if code := put("coopguard/ack", "cmd-1", true); code != http.StatusOK {
		t.Fatalf("PUT: %d", code)
	}
	e.srv.SetGuestAttribute(testProject, testZone, "web-1", "coopguard", "state", "isolated")
	e.srv.SetGuestAttribute(testProject, testZone, "web-1", "other", "x", "y")

	tests := []struct {
		name      string
		queryPath string
		want      []string
	}{
		{"namespace", "coopguard/", []string{"coopguard/ack=cmd-1", "coopguard/state=isolated"}},
		{"one key", "coopguard/ack", []string{"coopguard/ack=cmd-1"}},
		{"all", "", []string{"coopguard/ack=cmd-1", "coopguard/state=isolated", "other/x=y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &computepb.GetGuestAttributesInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"}
			if tt.queryPath != "" {
				req.QueryPath = proto.String(tt.queryPath)
			}
			ga, err := e.inst.GetGuestAttributes(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range ga.GetQueryValue().GetItems() {
				got = append(got, it.GetNamespace()+"/"+it.GetKey()+"="+it.GetValue())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	ga, err := e.inst.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", VariableKey: proto.String("coopguard/ack")})
	if err != nil || ga.GetVariableValue() != "cmd-1" {
		t.Errorf("variableKey = %v, %v", ga, err)
	}
}

// putGuest writes a guest attribute through the VM's metadata server.
func putGuest(ctx context.Context, t *testing.T, base, path, value string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/computeMetadata/v1/instance/guest-attributes/"+path, strings.NewReader(value))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestGuestAttributesNeedEnabling pins that the guest can write guest
// attributes only when metadata enable-guest-attributes is TRUE on the
// instance or, when the instance does not say, on the project; else the
// metadata server refuses with 403 and the API finds nothing.
func TestGuestAttributesNeedEnabling(t *testing.T) {
	cases := []struct {
		name     string
		instance map[string]string
		project  string // project's enable-guest-attributes, "" for unset
		want     int
	}{
		{"not enabled", nil, "", http.StatusForbidden},
		{"enabled on the instance", map[string]string{"enable-guest-attributes": "TRUE"}, "", http.StatusOK},
		{"enabled on the project", nil, "TRUE", http.StatusOK},
		{"the instance overrides the project", map[string]string{"enable-guest-attributes": "FALSE"}, "TRUE", http.StatusForbidden},
		{"any other value is off", map[string]string{"enable-guest-attributes": "yes"}, "", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testCtx(t)
			e.createNetwork(t, testProject, "default", "10.128.0.0/20")
			if tc.project != "" {
				p, err := e.projects(t).Get(ctx, &computepb.GetProjectRequest{Project: testProject})
				if err != nil {
					t.Fatal(err)
				}
				wait(t)(e.projects(t).SetCommonInstanceMetadata(ctx, &computepb.SetCommonInstanceMetadataProjectRequest{Project: testProject,
					MetadataResource: &computepb.Metadata{Fingerprint: p.GetCommonInstanceMetadata().Fingerprint,
						Items: []*computepb.Items{{Key: proto.String("enable-guest-attributes"), Value: proto.String(tc.project)}}}}))
			}
			e.createInstance(t, "web-1", nil, tc.instance)
			base := metadataEnv(t, e, "web-1")
			if code := putGuest(ctx, t, base, "coopguard/agents", "stopped"); code != tc.want {
				t.Errorf("PUT: %d, want %d", code, tc.want)
			}
			_, err := e.inst.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1", VariableKey: proto.String("coopguard/agents")})
			if found := err == nil; found != (tc.want == http.StatusOK) {
				t.Errorf("getGuestAttributes after PUT %d: %v", tc.want, err)
			}
		})
	}
}

// TestGuestAttributeReadLimit pins the per-VM read limit of
// getGuestAttributes: a burst of 3, then 10 a minute; past it 403
// rateLimitExceeded.
func TestGuestAttributeReadLimit(t *testing.T) {
	e := newEnv(t)
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.srv.SetClock(clk.Now)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, map[string]string{"enable-guest-attributes": "TRUE"})
	e.createInstance(t, "web-2", nil, map[string]string{"enable-guest-attributes": "TRUE"})
	read := func(vm string) int {
		_, err := e.inst.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: testProject, Zone: testZone, Instance: vm, QueryPath: proto.String("coopguard/")})
		if err == nil {
			return http.StatusOK
		}
		code, reason := apiCode(t, err)
		if code == http.StatusForbidden && reason != "rateLimitExceeded" {
			t.Errorf("403 with reason %q, want rateLimitExceeded", reason)
		}
		return code
	}
	steps := []struct {
		advance time.Duration
		vm      string
		want    int
	}{
		{0, "web-1", http.StatusNotFound}, // nothing written yet, but a read
		{0, "web-1", http.StatusNotFound},
		{0, "web-1", http.StatusNotFound},
		{0, "web-1", http.StatusForbidden}, // burst spent
		{0, "web-2", http.StatusNotFound},  // the limit is per VM
		{5 * time.Second, "web-1", http.StatusForbidden},
		{time.Second, "web-1", http.StatusNotFound}, // one more after 6 s
		{time.Second, "web-1", http.StatusForbidden},
		{time.Minute, "web-1", http.StatusNotFound},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if got := read(s.vm); got != s.want {
			t.Errorf("read %d (%s, +%v): %d, want %d", i, s.vm, s.advance, got, s.want)
		}
	}
}

// TestProjectMetadata pins projects.get and setCommonInstanceMetadata
// (fingerprint-guarded) and that every VM's metadata server serves the
// project's attributes.
func TestProjectMetadata(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, nil)
	base := metadataEnv(t, e, "web-1")
	pc := e.projects(t)
	p, err := pc.Get(ctx, &computepb.GetProjectRequest{Project: testProject})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetName() != testProject || p.GetCommonInstanceMetadata().GetFingerprint() == "" || len(p.GetCommonInstanceMetadata().GetItems()) != 0 {
		t.Fatalf("project = %v", p)
	}
	set := func(fp *string) error {
		return waitErr(pc.SetCommonInstanceMetadata(ctx, &computepb.SetCommonInstanceMetadataProjectRequest{Project: testProject,
			MetadataResource: &computepb.Metadata{Fingerprint: fp, Items: []*computepb.Items{{Key: proto.String("team"), Value: proto.String("coop")}}}}))
	}
	if err := set(proto.String("stale")); err == nil {
		t.Error("stale fingerprint accepted")
	} else if code, _ := apiCode(t, err); code != http.StatusPreconditionFailed {
		t.Errorf("stale fingerprint: %d, want 412", code)
	}
	if err := set(p.GetCommonInstanceMetadata().Fingerprint); err != nil {
		t.Fatal(err)
	}
	p2, err := pc.Get(ctx, &computepb.GetProjectRequest{Project: testProject})
	if err != nil || len(p2.GetCommonInstanceMetadata().GetItems()) != 1 || p2.GetCommonInstanceMetadata().GetFingerprint() == p.GetCommonInstanceMetadata().GetFingerprint() {
		t.Errorf("after set: %v, %v", p2, err)
	}
	if r := mdGet(ctx, base, "/computeMetadata/v1/project/attributes/team", true); r.code != 200 || r.body != "coop" {
		t.Errorf("project attribute on the metadata server = %+v", r)
	}
}

// waitErr waits for a mutation's operation and returns its error.
func waitErr(op interface {
	Wait(context.Context, ...gax.CallOption) error
}, err error) error {
	if err != nil {
		return err
	}
	return op.Wait(context.Background())
}

// TestMetadataServerOfStoppedVM pins that a VM that is not running asks
// its metadata server nothing: the server hangs up, long polls included.
func TestMetadataServerOfStoppedVM(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, map[string]string{"coopguard-agents": "run"})
	base := metadataEnv(t, e, "web-1")
	path := "/computeMetadata/v1/instance/attributes/coopguard-agents"
	cur := mdGet(ctx, base, path, true)
	if cur.code != 200 {
		t.Fatalf("running VM: %+v", cur)
	}
	polled := make(chan mdResult, 1)
	go func() { polled <- mdGet(ctx, base, path+"?wait_for_change=true&last_etag="+cur.etag, true) }()
	wait(t)(e.inst.Stop(ctx, &computepb.StopInstanceRequest{Project: testProject, Zone: testZone, Instance: "web-1"}))
	if r := <-polled; r.err == nil {
		t.Errorf("long poll across the stop answered %+v, want no answer", r)
	}
	if r := mdGet(ctx, base, path, true); r.err == nil {
		t.Errorf("stopped VM's metadata server answered %+v", r)
	}
}

// TestMetadataServerDate pins that the metadata server dates its answers
// with the emulator's clock: a guest keeps Google's time (it syncs with
// the metadata server), so on the emulated project the VM's time is the
// emulator's, wherever a test has moved it.
func TestMetadataServerDate(t *testing.T) {
	e, clk := timedEnv(t)
	base := metadataEnv(t, e, "web-1")
	clk.Advance(42 * time.Hour)
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, base+"/computeMetadata/v1/instance/name", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil || !got.Equal(clk.Now().Truncate(time.Second)) {
		t.Errorf("Date %q (%v), want the emulator's %s", resp.Header.Get("Date"), err, clk.Now().UTC().Format(http.TimeFormat))
	}
}
