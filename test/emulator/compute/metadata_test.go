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
	e.createNetwork(t, testProject, "default", "10.128.0.0/20")
	e.createInstance(t, "web-1", nil, nil)
	base := metadataEnv(t, e, "web-1")
	ctx := testCtx(t)

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
