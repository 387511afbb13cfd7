package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

type org struct {
	srv   *Server
	inj   *faults.Injector
	url   string
	admin string
	http  *http.Client
}

func newOrg(t *testing.T) *org {
	t.Helper()
	inj := faults.New()
	s := New(inj, func() time.Time { return time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC) })
	hs := httptest.NewServer(s)
	t.Cleanup(func() { inj.ReleaseHangs(); hs.Close() })
	return &org{srv: s, inj: inj, url: hs.URL, admin: s.AddAdminKey(), http: hs.Client()}
}

// call sends one request as the admin (key "" sends none; version false
// leaves out anthropic-version) and returns status, headers and body.
func (o *org) call(t *testing.T, method, path, body, key string, version bool) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, o.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if version {
		req.Header.Set("anthropic-version", Version)
	}
	resp, err := o.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func errorType(t *testing.T, b []byte) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Message == "" || !strings.HasPrefix(e.RequestID, "req_") {
		t.Fatalf("not the documented error shape: %s", b)
	}
	return e.Error.Type
}

func TestAuthenticationAndVersion(t *testing.T) {
	o := newOrg(t)
	_, standard := o.srv.CreateKey("sandbox", "")
	tests := []struct {
		name    string
		key     string
		version bool
		status  int
		errType string
	}{
		{"no key", "", true, 401, "authentication_error"},
		{"unknown key", "sk-ant-admin01-nope", true, 401, "authentication_error"},
		{"a standard API key is not an Admin API key", standard, true, 401, "authentication_error"},
		{"admin key without anthropic-version", o.admin, false, 400, "invalid_request_error"},
		{"admin key and version", o.admin, true, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, b := o.call(t, http.MethodGet, "/v1/organizations/api_keys", "", tt.key, tt.version)
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %s", code, tt.status, b)
			}
			if h.Get("request-id") == "" {
				t.Error("no request-id header")
			}
			if tt.errType != "" {
				if got := errorType(t, b); got != tt.errType {
					t.Errorf("error type = %s, want %s", got, tt.errType)
				}
			}
		})
	}
}

type page struct {
	Data    []Key   `json:"data"`
	HasMore bool    `json:"has_more"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
}

func TestListFiltersAndPages(t *testing.T) {
	o := newOrg(t)
	var ids []string // creation order
	for i := range 5 {
		ws := "wrkspc_sandbox"
		if i == 4 {
			ws = ""
		}
		id, _ := o.srv.CreateKey("k", ws)
		ids = append(ids, id)
	}
	o.srv.SetStatus(ids[1], StatusInactive)
	list := func(q string) (int, page, []byte) {
		code, _, b := o.call(t, http.MethodGet, "/v1/organizations/api_keys"+q, "", o.admin, true)
		var p page
		if code == 200 {
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
		}
		return code, p, b
	}
	idsOf := func(p page) string {
		var s []string
		for _, k := range p.Data {
			s = append(s, k.ID)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name    string
		query   string
		status  int
		want    []string
		hasMore bool
	}{
		{"all, newest first", "", 200, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, false},
		{"workspace and status", "?workspace_id=wrkspc_sandbox&status=active", 200, []string{ids[3], ids[2], ids[0]}, false},
		{"first page", "?limit=2", 200, []string{ids[4], ids[3]}, true},
		{"after_id", "?limit=2&after_id=" + ids[3], 200, []string{ids[2], ids[1]}, true},
		{"last page", "?limit=2&after_id=" + ids[1], 200, []string{ids[0]}, false},
		{"before_id", "?limit=2&before_id=" + ids[1], 200, []string{ids[3], ids[2]}, true},
		{"no match", "?status=archived", 200, nil, false},
		{"limit 0", "?limit=0", 400, nil, false},
		{"limit over 1000", "?limit=1001", 400, nil, false},
		{"unknown status", "?status=revoked", 400, nil, false},
		{"both cursors", "?after_id=" + ids[0] + "&before_id=" + ids[1], 400, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, p, b := list(tt.query)
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %s", code, tt.status, b)
			}
			if code != 200 {
				if got := errorType(t, b); got != "invalid_request_error" {
					t.Errorf("error type = %s", got)
				}
				return
			}
			if got := idsOf(p); got != strings.Join(tt.want, ",") {
				t.Errorf("ids = %s, want %s", got, strings.Join(tt.want, ","))
			}
			if p.HasMore != tt.hasMore {
				t.Errorf("has_more = %v, want %v", p.HasMore, tt.hasMore)
			}
			switch {
			case len(tt.want) == 0 && (p.FirstID != nil || p.LastID != nil):
				t.Error("first_id/last_id set on an empty page")
			case len(tt.want) > 0 && (p.FirstID == nil || *p.FirstID != tt.want[0] || p.LastID == nil || *p.LastID != tt.want[len(tt.want)-1]):
				t.Errorf("first_id/last_id = %v/%v", p.FirstID, p.LastID)
			}
		})
	}
}

func TestGetAndUpdate(t *testing.T) {
	o := newOrg(t)
	id, secret := o.srv.CreateKey("sandbox", "wrkspc_1")
	archived, _ := o.srv.CreateKey("old", "")
	o.srv.SetStatus(archived, StatusArchived)
	path := "/v1/organizations/api_keys/"
	tests := []struct {
		name, method, id, body string
		status                 int
		wantStatus             string
		revocations            int
	}{
		{"get", http.MethodGet, id, "", 200, StatusActive, 0},
		{"get unknown", http.MethodGet, "apikey_01nope", "", 404, "", 0},
		{"deactivate", http.MethodPost, id, `{"status":"inactive"}`, 200, StatusInactive, 1},
		{"deactivate again changes nothing", http.MethodPost, id, `{"status":"inactive"}`, 200, StatusInactive, 1},
		{"expired is not writable", http.MethodPost, id, `{"status":"expired"}`, 400, "", 1},
		{"unknown field", http.MethodPost, id, `{"status":"inactive","scope":"all"}`, 400, "", 1},
		{"name too long", http.MethodPost, id, `{"name":"` + strings.Repeat("n", 501) + `"}`, 400, "", 1},
		{"rename", http.MethodPost, id, `{"name":"sandbox (revoked)"}`, 200, StatusInactive, 1},
		{"an archived key cannot change status", http.MethodPost, archived, `{"status":"active"}`, 400, "", 1},
		{"update unknown", http.MethodPost, "apikey_01nope", `{"status":"inactive"}`, 404, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, b := o.call(t, tt.method, path+tt.id, tt.body, o.admin, true)
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %s", code, tt.status, b)
			}
			if strings.Contains(string(b), secret) {
				t.Fatal("the API answered with a key's secret value")
			}
			if code == 200 {
				var k Key
				if err := json.Unmarshal(b, &k); err != nil {
					t.Fatal(err)
				}
				if k.Type != "api_key" || k.ID != tt.id || k.Status != tt.wantStatus || k.WorkspaceID == nil || *k.WorkspaceID != "wrkspc_1" {
					t.Errorf("key = %+v", k)
				}
				if !strings.HasPrefix(k.PartialKeyHint, "sk-ant-api03-") || !strings.Contains(k.PartialKeyHint, "...") {
					t.Errorf("partial_key_hint = %q", k.PartialKeyHint)
				}
			} else {
				want := "invalid_request_error"
				if code == 404 {
					want = "not_found_error"
				}
				if got := errorType(t, b); got != want {
					t.Errorf("error type = %s, want %s", got, want)
				}
			}
			if got := o.srv.Revocations(id); got != tt.revocations {
				t.Errorf("revocations = %d, want %d", got, tt.revocations)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name    string
		fault   faults.Fault
		status  int
		errType string
	}{
		{"overloaded", faults.Fault{Code: codes.Unavailable}, 529, "overloaded_error"},
		{"internal", faults.Fault{Code: codes.Internal}, 500, "api_error"},
		{"rate limited", faults.Fault{Code: codes.ResourceExhausted}, 429, "rate_limit_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrg(t)
			id, _ := o.srv.CreateKey("sandbox", "")
			o.inj.FailNext(MethodUpdate, 1, tt.fault)
			code, _, b := o.call(t, http.MethodPost, "/v1/organizations/api_keys/"+id, `{"status":"inactive"}`, o.admin, true)
			if code != tt.status || errorType(t, b) != tt.errType {
				t.Fatalf("status = %d %s, want %d %s", code, b, tt.status, tt.errType)
			}
			if k, _ := o.srv.Key(id); k.Status != StatusActive {
				t.Error("a failed update changed the key")
			}
			code, _, _ = o.call(t, http.MethodPost, "/v1/organizations/api_keys/"+id, `{"status":"inactive"}`, o.admin, true)
			if code != 200 || o.srv.Revocations(id) != 1 {
				t.Errorf("after the fault: status %d, revocations %d", code, o.srv.Revocations(id))
			}
			if o.inj.Calls(MethodUpdate) != 2 || o.inj.Mutations(MethodUpdate) != 2 {
				t.Errorf("calls = %d, mutations = %d", o.inj.Calls(MethodUpdate), o.inj.Mutations(MethodUpdate))
			}
		})
	}
	t.Run("hang until the client gives up", func(t *testing.T) {
		o := newOrg(t)
		o.inj.FailNext(MethodList, 1, faults.Fault{Hang: true})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.url+"/v1/organizations/api_keys", nil)
		req.Header.Set("x-api-key", o.admin)
		req.Header.Set("anthropic-version", Version)
		_, err := o.http.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the client's deadline", err)
		}
	})
}

func TestUnknownRouteIsNotFound(t *testing.T) {
	o := newOrg(t)
	code, _, b := o.call(t, http.MethodDelete, "/v1/organizations/api_keys/x", "", o.admin, true)
	if code != 404 || errorType(t, b) != "not_found_error" {
		t.Errorf("status = %d %s", code, b)
	}
}
