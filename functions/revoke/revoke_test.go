package revoke_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/anthropic"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/fixture"
)

const (
	project = "coopguard-local"
	managed = "anthropic-api-key"
	adminID = "coopguard-anthropic-admin"
)

// world is an emulated project with the Admin API, the admin key in its
// secret, the managed secret with versions 1..n, and the incident store.
type world struct {
	emu     *emulator.Emulator
	clients *gcp.Clients
	st      *store.Store
	admin   string
	// keys are the Anthropic key ids and secrets per version ("1", "2", …).
	keys, secrets map[string]string
}

func newWorld(t *testing.T, versions int) *world {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	c, err := emu.Clients(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &world{emu: emu, clients: c, st: fixture.OpenStore(t, emu), admin: emu.Anthropic.AddAdminKey(), keys: map[string]string{}, secrets: map[string]string{}}
	emu.SecretManager.SeedSecret(project, adminID, []byte(w.admin+"\n"))
	var payloads [][]byte
	for i := 1; i <= versions; i++ {
		id, secret := emu.Anthropic.CreateKey(fmt.Sprintf("sandbox v%d", i), "wrkspc_sandbox")
		v := fmt.Sprint(i)
		w.keys[v], w.secrets[v] = id, secret
		payloads = append(payloads, []byte(secret))
	}
	emu.SecretManager.SeedSecret(project, managed, payloads...)
	return w
}

func (w *world) record(t *testing.T, versions ...string) {
	t.Helper()
	for _, v := range versions {
		if err := w.st.RecordProviderKey(context.Background(), store.ProviderKey{Secret: managed, Version: v, Provider: "anthropic", KeyID: w.keys[v]}); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) revoker(mutate ...func(*config.Revoke)) revoke.Revoker {
	cfg := config.Revoke{Provider: config.RevokeAnthropic, URL: w.emu.AnthropicURL, CredentialSecret: adminID, NameKeysBy: config.NameByKeyID, Timeout: config.Duration{Duration: 2 * time.Second}}
	for _, m := range mutate {
		m(&cfg)
	}
	return revoke.New(cfg, project, w.clients.Secrets, w.st, nil)
}

func (w *world) status(v string) string {
	k, _ := w.emu.Anthropic.Key(w.keys[v])
	return k.Status
}

// noLeak fails when err's text carries the admin key or a managed key.
func (w *world) noLeak(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, w.admin) || strings.Contains(s, w.admin[15:40]) {
		t.Errorf("the admin key appears in %q", s)
	}
	for _, k := range w.secrets {
		if strings.Contains(s, k) {
			t.Errorf("a managed key appears in %q", s)
		}
	}
}

func TestAnthropicByKeyID(t *testing.T) {
	w := newWorld(t, 3)
	w.record(t, "1", "2") // version 3 was added by hand: no id recorded
	w.emu.Anthropic.SetStatus(w.keys["1"], anthropic.StatusInactive)
	r := w.revoker()
	ctx := context.Background()
	req := revoke.Request{Project: project, Secrets: []string{managed}, Incident: "inc-1"}

	dry := req
	dry.DryRun = true
	res, err := r.Revoke(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Revoked, []string{w.keys["2"]}) || w.status("2") != anthropic.StatusActive {
		t.Fatalf("dry run: %+v, key 2 %s", res, w.status("2"))
	}

	tests := []struct {
		name             string
		revoked, already []string
		wantUpdates      int
	}{
		{"first call revokes the active named key", []string{w.keys["2"]}, []string{w.keys["1"]}, 1},
		{"a repeat changes nothing", nil, []string{w.keys["1"], w.keys["2"]}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Revoke(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(res.Already)
			slices.Sort(tt.already)
			if !slices.Equal(res.Revoked, tt.revoked) || !slices.Equal(res.Already, tt.already) {
				t.Errorf("result = %+v, want revoked %v already %v", res, tt.revoked, tt.already)
			}
			if !slices.Equal(res.Unnamed, []string{managed + "/3"}) {
				t.Errorf("unnamed = %v, want the version without a recorded id", res.Unnamed)
			}
			if got := w.emu.Faults.Mutations(anthropic.MethodUpdate); got != tt.wantUpdates {
				t.Errorf("updates = %d, want %d", got, tt.wantUpdates)
			}
		})
	}
	if w.status("2") != anthropic.StatusInactive || w.status("3") != anthropic.StatusActive {
		t.Errorf("statuses: v2 %s v3 %s", w.status("2"), w.status("3"))
	}
}

func TestAnthropicWorkspaceScope(t *testing.T) {
	w := newWorld(t, 1)
	// A recorded id naming a key of another workspace is not revoked.
	other, _ := w.emu.Anthropic.CreateKey("production", "wrkspc_prod")
	if err := w.st.RecordProviderKey(context.Background(), store.ProviderKey{Secret: managed, Version: "1", Provider: "anthropic", KeyID: other}); err != nil {
		t.Fatal(err)
	}
	res, err := w.revoker(func(c *config.Revoke) { c.WorkspaceID = "wrkspc_sandbox" }).Revoke(context.Background(), revoke.Request{Project: project, Secrets: []string{managed}})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := w.emu.Anthropic.Key(other); k.Status != anthropic.StatusActive || len(res.Revoked) != 0 || len(res.Unnamed) != 1 || !strings.Contains(res.Unnamed[0], "outside workspace") {
		t.Errorf("result %+v, other key %s", res, k.Status)
	}
}

func TestAnthropicByWorkspacePages(t *testing.T) {
	w := newWorld(t, 0)
	var mine []string
	for i := range 230 { // more than two pages of 100
		id, _ := w.emu.Anthropic.CreateKey(fmt.Sprint("agent ", i), "wrkspc_sandbox")
		mine = append(mine, id)
	}
	w.emu.Anthropic.SetStatus(mine[7], anthropic.StatusInactive)
	prod, _ := w.emu.Anthropic.CreateKey("production", "wrkspc_prod")
	def, _ := w.emu.Anthropic.CreateKey("default workspace", "")
	r := w.revoker(func(c *config.Revoke) { c.NameKeysBy, c.WorkspaceID = config.NameByWorkspace, "wrkspc_sandbox" })
	res, err := r.Revoke(context.Background(), revoke.Request{Project: project, Secrets: []string{managed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Revoked) != 229 {
		t.Errorf("revoked %d keys, want 229", len(res.Revoked))
	}
	for _, id := range []string{prod, def} {
		if k, _ := w.emu.Anthropic.Key(id); k.Status != anthropic.StatusActive {
			t.Errorf("key %s outside the workspace is %s", id, k.Status)
		}
	}
	if got := w.emu.Faults.Calls(anthropic.MethodList); got != 3 {
		t.Errorf("list calls = %d, want 3 pages", got)
	}
}

func TestAnthropicFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(w *world)
		retryable bool
		mentions  string
	}{
		{"overloaded", func(w *world) {
			w.emu.Faults.FailNext(anthropic.MethodUpdate, 1, faults.Fault{Code: codes.Unavailable})
		}, true, "529"},
		{"internal error", func(w *world) {
			w.emu.Faults.FailNext(anthropic.MethodGet, 1, faults.Fault{Code: codes.Internal})
		}, true, "500"},
		{"no answer in time", func(w *world) {
			w.emu.Faults.FailNext(anthropic.MethodUpdate, 1, faults.Fault{Hang: true})
		}, true, "no answer in time"},
		{"the admin key is refused", func(w *world) {
			// The secret's newest version holds a key Anthropic does not know.
			w.emu.SecretManager.SeedSecret(project, "wrong-admin", []byte("sk-ant-admin01-REVOKEDadminKEY"))
		}, false, "credential in secret"},
		{"the Admin API is unreachable", func(w *world) {}, true, "Anthropic Admin API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, 1)
			w.record(t, "1")
			tt.setup(w)
			r := w.revoker(func(c *config.Revoke) {
				c.Timeout = config.Duration{Duration: 300 * time.Millisecond}
				switch tt.name {
				case "the admin key is refused":
					c.CredentialSecret = "wrong-admin"
				case "the Admin API is unreachable":
					c.URL = "http://127.0.0.1:1"
				}
			})
			_, err := r.Revoke(context.Background(), revoke.Request{Project: project, Secrets: []string{managed}})
			if err == nil {
				t.Fatal("no error")
			}
			if revoke.Transient(err) != tt.retryable {
				t.Errorf("transient = %v, want %v: %v", revoke.Transient(err), tt.retryable, err)
			}
			if !strings.Contains(err.Error(), tt.mentions) {
				t.Errorf("error %q does not say %q", err, tt.mentions)
			}
			w.noLeak(t, err.Error())
			if strings.Contains(err.Error(), "REVOKEDadminKEY") {
				t.Errorf("the refused admin key appears in %q", err)
			}
			if _, code := retry.HTTPCode(err); tt.retryable && !code && !strings.Contains(err.Error(), "deadline") {
				t.Errorf("a transient failure without a status: %v", err)
			}
		})
	}
}

func TestHTTPSProvider(t *testing.T) {
	const cred = "https-CRED-value"
	var got []*http.Request
	var bodies []string
	answer := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, bodies = append(got, r), append(bodies, string(b))
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`{"revoked": 2}`))
		case "/none":
			_, _ = w.Write([]byte(`{"revoked": 0}`))
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/echo":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"bad token ` + r.Header.Get("Authorization") + `"}`))
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/redirect":
			http.Redirect(w, r, "https://elsewhere.example.com/", http.StatusTemporaryRedirect)
		case "/huge":
			_, _ = w.Write([]byte(`{"revoked": 1, "pad": "` + strings.Repeat("x", 70<<10) + `"}`))
		}
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(answer))
	defer srv.Close()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	c, err := emu.Clients(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	emu.SecretManager.SeedSecret(project, "revoke-token", []byte(cred))
	tests := []struct {
		path      string
		revoked   int
		already   bool
		wantErr   string
		retryable bool
	}{
		{"/ok", 1, false, "", false},
		{"/nocontent", 1, false, "", false},
		{"/none", 0, true, "", false},
		{"/echo", 0, false, "400", false},
		{"/busy", 0, false, "503", true},
		{"/redirect", 0, false, "redirect refused", false},
		{"/huge", 0, false, "size bound", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			cfg := config.Revoke{Provider: config.RevokeHTTPS, URL: srv.URL + tt.path + "?tenant=querySECRET", CredentialSecret: "revoke-token", Timeout: config.Duration{Duration: 2 * time.Second}}
			r := revoke.New(cfg, project, c.Secrets, nil, srv.Client())
			res, err := r.Revoke(context.Background(), revoke.Request{Project: project, Secrets: []string{managed}, Incident: "inc-9"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if revoke.Transient(err) != tt.retryable {
					t.Errorf("transient = %v", revoke.Transient(err))
				}
				for _, s := range []string{cred, "querySECRET"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error shows %s: %v", s, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Revoked) != tt.revoked || (len(res.Already) > 0) != tt.already {
				t.Errorf("result = %+v", res)
			}
			last := got[len(got)-1]
			var body map[string]any
			_ = json.Unmarshal([]byte(bodies[len(bodies)-1]), &body)
			if last.Header.Get("Authorization") != "Bearer "+cred || last.Header.Get("Idempotency-Key") != project+"/inc-9" || body["incident"] != "inc-9" {
				t.Errorf("request: idempotency %q, body %v", last.Header.Get("Idempotency-Key"), body)
			}
		})
	}
}

// TestAnthropicPerSandbox: a request for another sandbox revokes only the
// keys recorded for that sandbox's own secret, never the configured
// sandbox's workspace.
func TestAnthropicPerSandbox(t *testing.T) {
	w := newWorld(t, 1) // the configured sandbox's key, version 1 of anthropic-api-key
	w.record(t, "1")
	own := "anthropic-api-key-sbx2"
	id, secret := w.emu.Anthropic.CreateKey("sbx2 v1", "wrkspc_sbx2")
	w.emu.SecretManager.SeedSecret(project, own, []byte(secret))
	if err := w.st.RecordProviderKey(context.Background(), store.ProviderKey{Secret: own, Version: "1", Provider: "anthropic", KeyID: id}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// By key id: sbx2's key goes, whatever workspace it is in (workspace_id
	// is the configured sandbox's); the configured sandbox's stays.
	byID := w.revoker(func(c *config.Revoke) { c.WorkspaceID = "wrkspc_sandbox" })
	res, err := byID.Revoke(ctx, revoke.Request{Project: project, Sandbox: "sbx2", Secrets: []string{own}})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := w.emu.Anthropic.Key(id); k.Status != anthropic.StatusInactive || !slices.Equal(res.Revoked, []string{id}) {
		t.Errorf("sbx2's key %s is %s, result %+v: want it revoked", id, k.Status, res)
	}
	if got := w.status("1"); got != anthropic.StatusActive {
		t.Errorf("the configured sandbox's key is %s after revoking sbx2's, want active", got)
	}

	// By workspace: sbx2 has none of its own, so nothing is revoked, and
	// the result says why.
	byWS := w.revoker(func(c *config.Revoke) { c.NameKeysBy, c.WorkspaceID = config.NameByWorkspace, "wrkspc_sandbox" })
	res, err = byWS.Revoke(ctx, revoke.Request{Project: project, Sandbox: "sbx2", Secrets: []string{own}})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.status("1"); got != anthropic.StatusActive || len(res.Revoked) != 0 || len(res.Unnamed) != 1 || !strings.Contains(res.Unnamed[0], "no Anthropic workspace of its own") {
		t.Errorf("revoke by workspace for sbx2: configured key %s, result %+v; want nothing revoked and the reason", got, res)
	}
	// The configured sandbox, named with its workspace, still empties it.
	res, err = byWS.Revoke(ctx, revoke.Request{Project: project, Sandbox: "claude-sandbox", Workspace: "wrkspc_sandbox", Secrets: []string{managed}})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.status("1"); got != anthropic.StatusInactive || len(res.Revoked) != 1 {
		t.Errorf("revoke by workspace for the configured sandbox: key %s, result %+v; want it revoked", got, res)
	}
}
