package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestGuard: what the guard of `coopguard serve` lets through to the
// functions, for a server on 127.0.0.1:8080 and one on every address.
func TestGuard(t *testing.T) {
	const token = "tok-0123456789"
	tests := []struct {
		name         string
		listen       string
		token        string
		method, host string
		header       map[string]string
		body         string
		want         int
	}{
		{name: "plain GET", listen: "127.0.0.1", method: "GET", host: "127.0.0.1:8080", want: 200},
		{name: "localhost names loopback", listen: "127.0.0.1", method: "GET", host: "localhost:8080", want: 200},
		{name: "JSON body", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{"id":"x"}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, want: 200},
		{name: "POST without a body", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", want: 200},
		{name: "same-origin page", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{}`, header: map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, want: 200},
		{name: "typed in the address bar", listen: "127.0.0.1", method: "GET", host: "127.0.0.1:8080", header: map[string]string{"Sec-Fetch-Site": "none"}, want: 200},

		{name: "DNS rebinding: another name", listen: "127.0.0.1", method: "GET", host: "evil.example:8080", want: 403},
		{name: "another port", listen: "127.0.0.1", method: "GET", host: "127.0.0.1:9090", want: 403},
		{name: "no port is port 80", listen: "127.0.0.1", method: "GET", host: "127.0.0.1", want: 403},
		{name: "a LAN address on a loopback listener", listen: "127.0.0.1", method: "GET", host: "192.168.1.5:8080", want: 403},
		{name: "cross-site page", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{}`, header: map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, want: 403},
		{name: "another local origin", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{}`, header: map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:3000"}, want: 403},
		{name: "opaque origin (sandboxed frame)", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{}`, header: map[string]string{"Content-Type": "application/json", "Origin": "null"}, want: 403},
		{name: "no-cors GET from another site", listen: "127.0.0.1", method: "GET", host: "127.0.0.1:8080", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 403},
		{name: "form post", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{"id":"x"}`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 415},
		{name: "text/plain post", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{"id":"x"}`, header: map[string]string{"Content-Type": "text/plain"}, want: 415},
		{name: "body without a type", listen: "127.0.0.1", method: "POST", host: "127.0.0.1:8080", body: `{"id":"x"}`, want: 415},

		{name: "token", listen: "127.0.0.1", token: token, method: "GET", host: "127.0.0.1:8080", header: map[string]string{"Authorization": "Bearer " + token}, want: 200},
		{name: "no token", listen: "127.0.0.1", token: token, method: "GET", host: "127.0.0.1:8080", want: 401},
		{name: "wrong token", listen: "127.0.0.1", token: token, method: "GET", host: "127.0.0.1:8080", header: map[string]string{"Authorization": "Bearer tok-0123456788"}, want: 401},
		{name: "token as basic auth", listen: "127.0.0.1", token: token, method: "GET", host: "127.0.0.1:8080", header: map[string]string{"Authorization": "Basic " + token}, want: 401},
		{name: "token does not excuse a cross-site origin", listen: "127.0.0.1", token: token, method: "GET", host: "127.0.0.1:8080", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "https://evil.example"}, want: 403},

		{name: "wildcard: any IP literal", listen: "0.0.0.0", method: "GET", host: "192.168.1.5:8080", want: 200},
		{name: "wildcard: IPv6 literal", listen: "::", method: "GET", host: "[fe80::1]:8080", want: 200},
		{name: "wildcard: a name is refused", listen: "0.0.0.0", method: "GET", host: "evil.example:8080", want: 403},
		{name: "named host", listen: "devbox.lan", method: "GET", host: "DEVBOX.lan:8080", want: 200},
		{name: "named host: localhost is another host", listen: "devbox.lan", method: "GET", host: "localhost:8080", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })
			g := newGuard(tt.listen, 8080, tt.token, "/home/u/.config/coopguard/serve-8080.token", next)
			r := httptest.NewRequest(tt.method, "http://"+tt.host+"/Resolve", strings.NewReader(tt.body))
			r.Host = tt.host
			if tt.body == "" {
				r.ContentLength = 0
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if called != (tt.want == 200) {
				t.Errorf("function called: %v with status %d", called, w.Code)
			}
			if strings.Contains(w.Body.String(), token) {
				t.Errorf("the answer shows the token: %s", w.Body.String())
			}
			if tt.want == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// startServe runs `coopguard serve ARGS --port 0` and returns its URL
// (read from the first line serve prints: a port picked before serve
// listens could be taken by another process meanwhile), its output, and
// stop, which ends it (also done when the test ends).
func startServe(t *testing.T, args ...string) (url string, out *fixture.Buffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &fixture.Buffer{}
	served := make(chan error, 1)
	go func() { served <- realMain(ctx, append([]string{"serve", "--port", "0"}, args...), out) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("serve: %v\n%s", err, out.String())
				}
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop on cancel")
			}
		})
	}
	t.Cleanup(stop)
	// serve starts the Firestore emulator (Java) before it listens.
	deadline := time.Now().Add(firestoreemu.StartTimeout + 10*time.Second)
	for {
		if m := serveURL.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, stop
		}
		select {
		case err := <-served:
			t.Fatalf("serve ended: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address:\n%s", out.String())
		}
	}
}

// serveURL finds the address in serve's first line.
var serveURL = regexp.MustCompile(`coopguard serve: (http://\S+)`)

// post sends a raw request to the server and returns status and body.
func post(t *testing.T, method, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeRefusesWebPages: on the emulated serve, after a drill contained
// the sandbox, a web page's POST /Resolve (cross-site Origin), a text/plain
// body and a request under another Host name are refused and change
// nothing; the same resolve from the CLI goes through. GET /EmulatorInfo
// keeps working.
func TestServeRefusesWebPages(t *testing.T) {
	t.Parallel()
	server, _, _ := startServe(t, "--operations", "compressed")
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := realMain(ctx, append(args, "--server", server), &out); err != nil {
			t.Fatalf("coopguard %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	run("provision")
	run("drill")
	st, err := serverStatus(ctx, &target{server: server})
	if err != nil || len(st.Incidents) != 1 {
		t.Fatalf("status after the drill: %v %+v", err, st)
	}
	id := st.Incidents[0].Incident.ID
	body := `{"id":"` + id + `","restore":true}`
	host := strings.TrimPrefix(server, "http://")
	for _, tt := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site page", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site page, form encoded", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"DNS-rebound name", map[string]string{"Content-Type": "application/json", "Host": "rebind.evil.example:" + strings.Split(host, ":")[1]}, http.StatusForbidden},
		{"text/plain body", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
	} {
		code, answer := post(t, http.MethodPost, server+"/Resolve", body, tt.header)
		if code != tt.want {
			t.Errorf("%s: POST /Resolve = %d %s, want %d", tt.name, code, answer, tt.want)
		}
	}
	after, err := serverStatus(ctx, &target{server: server})
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Incidents[0]; got.Outcome != "contained" || got.ResolvedBy != "" {
		t.Fatalf("after the refused requests the incident is %s (resolved by %q), want contained", got.Outcome, got.ResolvedBy)
	}
	if after.Instances[0].Status != "TERMINATED" {
		t.Fatalf("after the refused requests the VM is %s, want TERMINATED", after.Instances[0].Status)
	}
	// The refusals were the guard's: the same resolve from the CLI works.
	if out := run("resolve", id, "--restore"); !strings.Contains(out, "resolved") {
		t.Errorf("resolve from the CLI printed:\n%s", out)
	}
	code, answer := post(t, http.MethodGet, server+"/EmulatorInfo", "", nil)
	var info emulatorInfo
	if code != http.StatusOK || json.Unmarshal([]byte(answer), &info) != nil || info.GRPC == "" {
		t.Errorf("GET /EmulatorInfo = %d %s", code, answer)
	}
	// The emulated Anthropic Admin API answers there, and asks for an
	// Admin API key.
	if code, answer := post(t, http.MethodGet, info.AnthropicAdminAPI+"/v1/organizations/api_keys", "", nil); code != http.StatusUnauthorized || !strings.Contains(answer, "authentication_error") {
		t.Errorf("GET %s/v1/organizations/api_keys = %d %s, want 401 authentication_error", info.AnthropicAdminAPI, code, answer)
	}
}

// TestRealConfigServeNeedsToken: `coopguard serve --config` (real GCP)
// writes a fresh bearer token 0600 into the user's config directory, answers
// 401 without it and lets the CLI, which reads it, through; the token is
// never printed, and the file goes when serve stops. The functions behind
// the guard answer from the Firestore emulator only: nothing reaches GCP.
func TestRealConfigServeNeedsToken(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	fe, err := firestoreemu.Shared()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(firestoreemu.EnvHost, fe.Host)
	// Application Default Credentials that parse: the clients are made at
	// start, and no test request makes a GCP call.
	adc := filepath.Join(home, "adc.json")
	if err := os.WriteFile(adc, []byte(`{"type":"authorized_user","client_id":"test","client_secret":"test","refresh_token":"test"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", adc)
	cfg := filepath.Join(home, "config.toml")
	if err := os.WriteFile(cfg, []byte("[cloud.gcp]\nproject = \"token-test-project\"\nzone = \"us-central1-a\"\nservice_account = \"cc-sandbox@token-test-project.iam.gserviceaccount.com\"\n\n[vm]\nname = \"claude-sandbox\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	server, out, stop := startServe(t, "--config", cfg)
	port := strings.Split(server, ":")[2]
	path := filepath.Join(home, "config", "coopguard", "serve-"+port+".token")
	// The port opens before serve writes the token (a second serve on a
	// busy port must not touch the first one's): its banner says when.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "every request needs the bearer token"); {
		if time.Now().After(deadline) {
			t.Fatalf("serve never said where its token is:\n%s", out.String())
		}
		<-time.After(10 * time.Millisecond)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no token file: %v\n%s", err, out.String())
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := string(raw)
	if len(token) < 26 {
		t.Fatalf("token %d characters, want at least 26 (128 bits)", len(token))
	}
	// Every endpoint, and paths that are none.
	paths := []string{"/EmulatorInfo", "/EmulatorPublish", "/", "/nothing-here"}
	for _, f := range functions.Registered {
		paths = append(paths, "/"+f.Name)
	}
	for _, p := range paths {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			code, answer := post(t, method, server+p, `{}`, map[string]string{"Content-Type": "application/json"})
			if code != http.StatusUnauthorized || !strings.Contains(answer, path) {
				t.Errorf("%s %s without the token = %d %s, want 401 naming %s", method, p, code, answer, path)
			}
			code, _ = post(t, method, server+p, `{}`, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token[:len(token)-1] + "x"})
			if code != http.StatusUnauthorized {
				t.Errorf("%s %s with a wrong token = %d, want 401", method, p, code)
			}
		}
	}
	// With the token the request reaches the function: Resolve answers
	// itself (a bad request), from the store.
	code, answer := post(t, http.MethodPost, server+"/Resolve", `{}`, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token})
	if code != http.StatusBadRequest || !strings.Contains(answer, `\"id\" is required`) {
		t.Errorf("POST /Resolve {} with the token = %d %s, want Resolve's own 400", code, answer)
	}
	// The CLI reads the token: its resolve reaches Resolve, which finds no
	// such incident in the store (409).
	var cliOut bytes.Buffer
	err = realMain(context.Background(), []string{"resolve", "alert-none", "--server", server}, &cliOut)
	if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), `"alert-none" is not a coopguard incident`) {
		t.Errorf("coopguard resolve through the token-guarded server: %v, want Resolve's 409 about alert-none", err)
	}
	if strings.Contains(out.String(), token) {
		t.Errorf("serve printed its token:\n%s", out.String())
	}
	if !strings.Contains(out.String(), path) {
		t.Errorf("serve did not say where the token is:\n%s", out.String())
	}
	stop()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("token file after serve stopped: %v, want it removed", err)
	}
}

// TestServerTokenStaysLocal: the CLI sends the token of a local serve
// only to that serve, never to another machine.
func TestServerTokenStaysLocal(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	token, path, remove, err := writeToken(18080)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v %v, want mode 0600", path, fi, err)
	}
	for _, tt := range []struct {
		server string
		want   string
	}{
		{"http://127.0.0.1:18080", token},
		{"http://localhost:18080/", token},
		{"http://[::1]:18080", token},
		{"http://127.0.0.1:18081", ""},
		{"https://127.0.0.1:18080", ""},
		{"http://10.0.0.7:18080", ""},
		{"http://coopguard.example:18080", ""},
		{"http://127.0.0.1.evil.example:18080", ""},
	} {
		if got := serverToken(tt.server); got != tt.want {
			t.Errorf("serverToken(%s) = %q, want %q", tt.server, got, tt.want)
		}
	}
	remove()
	if serverToken("http://127.0.0.1:18080") != "" {
		t.Error("token still read after serve removed it")
	}
}
