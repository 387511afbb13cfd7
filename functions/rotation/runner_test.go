package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

const (
	project   = "coopguard-test"
	smMethod  = "google.cloud.secretmanager.v1.SecretManagerService/"
	mList     = smMethod + "ListSecretVersions"
	mGet      = smMethod + "GetSecretVersion"
	mAccess   = smMethod + "AccessSecretVersion"
	mAdd      = smMethod + "AddSecretVersion"
	mDisable  = smMethod + "DisableSecretVersion"
	mDestroy  = smMethod + "DestroySecretVersion"
	credID    = "key-source-credential"
	credValue = "cred-TOPSECRET-9f8e7d"
)

// fastRetry keeps transient-error tests quick.
var fastRetry = retry.Policy{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond, PerTry: 10 * time.Second}

// fixture is one test's emulated Secret Manager with its clock frozen at t0.
type fixture struct {
	emu     *emulator.Emulator
	clients *gcp.Clients
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	emu.Clock.Set(t0)
	clients, err := emu.Clients(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	return &fixture{emu: emu, clients: clients}
}

// seed creates secret id with one ENABLED version per age, oldest first as
// given, each created that long before the emulator's clock.
func (f *fixture) seed(t testing.TB, id string, ages ...time.Duration) {
	t.Helper()
	payloads := make([][]byte, len(ages))
	for i := range ages {
		payloads[i] = []byte(fmt.Sprintf("sk-%s-%d", id, i+1))
	}
	f.emu.SecretManager.SeedSecret(project, id, payloads...)
	for i, a := range ages {
		f.emu.SecretManager.SetVersionCreateTime(fmt.Sprintf("projects/%s/secrets/%s/versions/%d", project, id, i+1), f.emu.Clock.Now().Add(-a))
	}
}

// states returns the secret's version states, oldest first.
func (f *fixture) states(id string) []string {
	var out []string
	for _, v := range f.emu.SecretManager.Versions("projects/" + project + "/secrets/" + id) {
		out = append(out, v.GetState().String())
	}
	return out
}

func (f *fixture) runner(p Policy, managed ...string) *Runner {
	return &Runner{
		Client:  f.clients.Secrets,
		Project: project,
		Managed: managed,
		Policy:  p,
		Now:     f.emu.Clock.Now,
		Retry:   fastRetry,
	}
}

func (f *fixture) disable(t testing.TB, id string, n int) {
	t.Helper()
	_, err := f.emu.SecretManager.DisableSecretVersion(context.Background(), &secretmanagerpb.DisableSecretVersionRequest{Name: fmt.Sprintf("projects/%s/secrets/%s/versions/%d", project, id, n)})
	if err != nil {
		t.Fatal(err)
	}
}

func eq(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestRunSupersededVersions(t *testing.T) {
	tests := []struct {
		name string
		ages []time.Duration // oldest first
		want []string
	}{
		{"newer version inside grace", []time.Duration{30 * day, 23 * time.Hour}, []string{"ENABLED", "ENABLED"}},
		{"newer version past grace", []time.Duration{30 * day, 25 * time.Hour}, []string{"DISABLED", "ENABLED"}},
		{"three versions, the newest in grace", []time.Duration{60 * day, 20 * day, time.Hour}, []string{"DISABLED", "ENABLED", "ENABLED"}},
		{"the only version, far past max_age", []time.Duration{400 * day}, []string{"ENABLED"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.seed(t, "k", tc.ages...)
			rep, err := f.runner(defaultPolicy, "k").Run(context.Background(), Options{Trigger: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.states("k"); !eq(got, tc.want) {
				t.Errorf("states = %v, want %v", got, tc.want)
			}
			for _, a := range rep.Secrets[0].Actions {
				if a.Action != ActionDisableVersion || a.Result != incident.ResultDone {
					t.Errorf("action %+v, want disable-version done", a)
				}
			}
			// Superseded or not, the time passing must eventually settle it.
			f.emu.Clock.Advance(2 * day)
			if _, err := f.runner(defaultPolicy, "k").Run(context.Background(), Options{}); err != nil {
				t.Fatal(err)
			}
			enabled := 0
			for _, s := range f.states("k") {
				if s == StateEnabled {
					enabled++
				}
			}
			if enabled != 1 {
				t.Errorf("after grace: states %v, want exactly one ENABLED", f.states("k"))
			}
		})
	}
}

func TestRunDueWithoutKeySource(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "k", 91*day)
	rep, err := f.runner(defaultPolicy, "k").Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Secrets[0]
	if !s.Due || !strings.Contains(s.DueReason, "91d") || !strings.Contains(s.NotAdded, "key_source_url") {
		t.Errorf("report = %+v, want due (91d) with the fix named", s)
	}
	if n := f.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("%d mutations, want none: without a key source a due secret is only reported", n)
	}
	if got := len(rep.Due()); got != 1 {
		t.Errorf("Due() = %d secrets, want 1", got)
	}
}

// keyServer is a TLS minting service on 127.0.0.1 that records requests.
type keyServer struct {
	*httptest.Server
	mu       sync.Mutex
	auth     []string
	idem     []string
	bodies   []string
	status   atomic.Int32
	response atomic.Value // string
	n        atomic.Int32
}

func newKeyServer(t testing.TB) *keyServer {
	t.Helper()
	ks := &keyServer{}
	ks.status.Store(http.StatusOK)
	ks.response.Store("")
	ks.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := ks.n.Add(1)
		ks.mu.Lock()
		ks.auth = append(ks.auth, r.Header.Get("Authorization"))
		ks.idem = append(ks.idem, r.Header.Get("Idempotency-Key"))
		ks.bodies = append(ks.bodies, string(b))
		ks.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want POST application/json", http.StatusBadRequest)
			return
		}
		w.WriteHeader(int(ks.status.Load()))
		if resp := ks.response.Load().(string); resp != "" {
			io.WriteString(w, resp)
			return
		}
		// A server that echoes a secret in its error body must not see it
		// in coopguard's errors.
		fmt.Fprintf(w, `{"key":"sk-new-KEY-%d","error":"token %s"}`, n, credValue)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (f *fixture) withSource(t testing.TB, r *Runner, ks *keyServer) *Runner {
	t.Helper()
	f.emu.SecretManager.SeedSecret(project, credID, []byte(credValue+"\n"))
	r.Policy.KeySource = true
	r.Source = &HTTPKeySource{URL: ks.URL + "/mint?tenant=x", Project: project, CredentialSecret: credID, Secrets: f.clients.Secrets, HTTP: ks.Client(), Retry: fastRetry}
	return r
}

func (f *fixture) payload(t testing.TB, name string) string {
	t.Helper()
	resp, err := f.clients.Secrets.AccessSecretVersion(context.Background(), &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return string(resp.GetPayload().GetData())
}

func TestRunDueWithKeySource(t *testing.T) {
	f := newFixture(t)
	ks := newKeyServer(t)
	f.seed(t, "k", 120*day, 91*day)
	r := f.withSource(t, f.runner(defaultPolicy, "k"), ks)
	rep, err := r.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 is superseded by 2 (settled); 3 is the new key; 2 stays
	// for the grace period.
	if got := f.states("k"); !eq(got, []string{"DISABLED", "ENABLED", "ENABLED"}) {
		t.Fatalf("states = %v", got)
	}
	if got := f.payload(t, "projects/"+project+"/secrets/k/versions/3"); got != "sk-new-KEY-1" {
		t.Errorf("new version payload = %q, want the minted key", got)
	}
	if ks.auth[0] != "Bearer "+credValue {
		t.Errorf("Authorization = %q, want the credential (trimmed) as a bearer token", ks.auth[0])
	}
	if ks.idem[0] != project+"/k/after-2" {
		t.Errorf("Idempotency-Key = %q", ks.idem[0])
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(ks.bodies[0]), &body); err != nil || body["secret"] != "k" || body["project"] != project {
		t.Errorf("request body = %s, want project and secret", ks.bodies[0])
	}
	raw, _ := json.Marshal(rep)
	for _, leak := range []string{"sk-new-KEY", credValue} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("report carries %q", leak)
		}
	}
	if a := rep.Secrets[0].Actions[0]; a.Action != ActionAddVersion || a.Result != incident.ResultDone || a.Detail != "added version 3" {
		t.Errorf("first action = %+v", a)
	}

	// The next day the new key is past grace: version 2 goes, and nothing
	// is minted again.
	f.emu.Clock.Advance(25 * time.Hour)
	if _, err := r.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := f.states("k"); !eq(got, []string{"DISABLED", "DISABLED", "ENABLED"}) {
		t.Errorf("states after grace = %v", got)
	}
	if ks.n.Load() != 1 {
		t.Errorf("key source called %d times, want once", ks.n.Load())
	}
}

func TestRunKeySourceFailing(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		response string
		wantErr  string
	}{
		{"server error", http.StatusServiceUnavailable, "", "answered 503"},
		{"not JSON", http.StatusOK, "sk-plain-KEY-text", "not a JSON object"},
		{"no key field", http.StatusOK, `{"token":"sk-KEY-elsewhere"}`, `no "key" field`},
		{"empty key", http.StatusOK, `{"key":""}`, "empty"},
		{"key not a string", http.StatusOK, `{"key":12345}`, "not a JSON string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ks := newKeyServer(t)
			ks.status.Store(int32(tc.status))
			ks.response.Store(tc.response)
			f.seed(t, "k", 120*day, 91*day)
			r := f.withSource(t, f.runner(defaultPolicy, "k"), ks)
			before := f.emu.Faults.TotalMutations()
			rep, err := r.Run(context.Background(), Options{})
			if err == nil || !rep.Failed() {
				t.Fatal("Run succeeded, want an error so Pub/Sub redelivers")
			}
			for _, want := range []string{"secret k", tc.wantErr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			raw, _ := json.Marshal(rep)
			for _, leak := range []string{credValue, "KEY"} {
				if strings.Contains(err.Error(), leak) || strings.Contains(string(raw), leak) {
					t.Errorf("error or report carries %q: %v", leak, err)
				}
			}
			if n := f.emu.Faults.TotalMutations() - before; n != 0 {
				t.Errorf("%d mutations, want none: nothing is disabled while the new key is missing", n)
			}
			if got := f.states("k"); !eq(got, []string{"ENABLED", "ENABLED"}) {
				t.Errorf("states = %v, want both still enabled", got)
			}
			var skippedDisable bool
			for _, a := range rep.Secrets[0].Actions {
				skippedDisable = skippedDisable || (a.Action == ActionDisableVersion && a.Result == incident.ResultSkipped)
			}
			if !skippedDisable {
				t.Errorf("actions %+v: want the disable reported as skipped", rep.Secrets[0].Actions)
			}
			// The redelivery, once the source is fixed, finishes the job.
			ks.status.Store(http.StatusOK)
			ks.response.Store(`{"key":"sk-fixed-\u00e9\"q"}`)
			if _, err := r.Run(context.Background(), Options{}); err != nil {
				t.Fatal(err)
			}
			if got := f.states("k"); !eq(got, []string{"DISABLED", "ENABLED", "ENABLED"}) {
				t.Errorf("states after the fix = %v", got)
			}
			if got := f.payload(t, "projects/"+project+"/secrets/k/versions/3"); got != "sk-fixed-é\"q" {
				t.Errorf("payload = %q", got)
			}
		})
	}
}

func TestHTTPKeySourceRefusals(t *testing.T) {
	f := newFixture(t)
	redirect := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.invalid/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	huge := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"key":"%s"}`, strings.Repeat("K", maxKeyResponse))
	}))
	t.Cleanup(huge.Close)
	f.emu.SecretManager.SeedSecret(project, credID, []byte(credValue))
	f.emu.SecretManager.SeedSecret(project, "empty-cred", []byte(" \n"))
	f.emu.SecretManager.SeedSecret(project, "disabled-cred", []byte(credValue))
	f.disable(t, "disabled-cred", 1)

	tests := []struct {
		name    string
		srv     *httptest.Server
		cred    string
		wantErr string
	}{
		{"redirect", redirect, credID, "redirect refused"},
		{"response too large", huge, credID, "over 65536 bytes"},
		{"credential secret missing", huge, "no-such-secret", "read the key source credential from secret no-such-secret"},
		{"credential disabled", huge, "disabled-cred", "make sure its latest version is ENABLED"},
		{"credential empty", huge, "empty-cred", "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &HTTPKeySource{URL: tc.srv.URL + "/mint?token=querySECRET", Project: project, CredentialSecret: tc.cred, Secrets: f.clients.Secrets, HTTP: tc.srv.Client(), Retry: fastRetry}
			key, err := src.NewKey(context.Background(), KeyRequest{Project: project, Secret: "k"})
			if err == nil || key != nil {
				t.Fatalf("NewKey = %q, %v; want an error", key, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			for _, leak := range []string{credValue, "querySECRET", "KKKK"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error carries %q", leak)
				}
			}
		})
	}
}

func TestRunDestroyAfter(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "k", 100*day, 99*day, 8*day, 2*day)
	f.disable(t, "k", 1)
	f.disable(t, "k", 2)
	p := defaultPolicy
	p.DestroyAfter = 7 * day
	r := f.runner(p, "k")
	if _, err := r.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	// 1 and 2 were superseded long enough ago; 3 is disabled now (4 is
	// settled) and will be destroyed 7 days after its grace.
	if got := f.states("k"); !eq(got, []string{"DESTROYED", "DESTROYED", "DISABLED", "ENABLED"}) {
		t.Fatalf("states = %v", got)
	}
	f.emu.Clock.Advance(5 * day) // 4 was created 7 days ago: 7d < 1d + 7d
	if _, err := r.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := f.states("k"); got[2] != "DISABLED" {
		t.Fatalf("states = %v, want version 3 kept a little longer", got)
	}
	f.emu.Clock.Advance(day + time.Minute)
	if _, err := r.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := f.states("k"); !eq(got, []string{"DESTROYED", "DESTROYED", "DESTROYED", "ENABLED"}) {
		t.Fatalf("states = %v", got)
	}
}

func TestRunDestroyOffByDefaultAndKeepDisabled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		want   []string
	}{
		{"destroy_after zero", defaultPolicy, []string{"DISABLED", "DISABLED", "ENABLED"}},
		{"keep_disabled 1", Policy{MaxAge: 90 * day, Grace: day, DestroyAfter: day, KeepDisabled: 1}, []string{"DESTROYED", "DISABLED", "ENABLED"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.seed(t, "k", 300*day, 200*day, 100*day)
			if _, err := f.runner(tc.policy, "k").Run(context.Background(), Options{}); err != nil {
				t.Fatal(err)
			}
			if got := f.states("k"); !eq(got, tc.want) {
				t.Errorf("states = %v, want %v", got, tc.want)
			}
			if tc.policy.DestroyAfter == 0 && f.emu.Faults.Calls(mDestroy) != 0 {
				t.Error("DestroySecretVersion called with destruction off")
			}
		})
	}
}

func TestRunRepeatedRunsChangeNothing(t *testing.T) {
	f := newFixture(t)
	ks := newKeyServer(t)
	f.seed(t, "a", 300*day, 200*day, 100*day)
	f.seed(t, "b", 10*day, 2*day)
	f.seed(t, "c", 5*time.Hour)
	p := defaultPolicy
	p.DestroyAfter = day
	r := f.withSource(t, f.runner(p, "a", "b", "c"), ks)
	if _, err := r.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	first := map[string][]string{"a": f.states("a"), "b": f.states("b"), "c": f.states("c")}
	before := f.emu.Faults.TotalMutations()
	for range 3 {
		rep, err := r.Run(context.Background(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Secrets {
			if len(s.Actions) != 0 {
				t.Errorf("repeated run acted on %s: %+v", s.Secret, s.Actions)
			}
		}
	}
	if n := f.emu.Faults.TotalMutations() - before; n != 0 {
		t.Errorf("repeated runs made %d mutations, want none", n)
	}
	for id, want := range first {
		if got := f.states(id); !eq(got, want) {
			t.Errorf("%s: states %v, want %v", id, got, want)
		}
	}
	if ks.n.Load() != 1 {
		t.Errorf("key source called %d times, want once (for a)", ks.n.Load())
	}
}

func TestRunDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	ks := newKeyServer(t)
	f.seed(t, "k", 300*day, 200*day, 100*day)
	p := defaultPolicy
	p.DestroyAfter = day
	rep, err := f.withSource(t, f.runner(p, "k"), ks).Run(context.Background(), Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("dry run made %d mutations", n)
	}
	if ks.n.Load() != 0 {
		t.Error("dry run called the key source")
	}
	got := map[string]int{}
	for _, a := range rep.Secrets[0].Actions {
		if a.Result != incident.ResultDryRun {
			t.Errorf("action %+v, want dry-run", a)
		}
		got[a.Action]++
	}
	if got[ActionAddVersion] != 1 || got[ActionDisableVersion] != 2 || got[ActionDestroyVersion] != 2 {
		t.Errorf("planned actions %v, want add 1, disable 2, destroy 2", got)
	}
}

func TestRunNeverTouchesUnmanagedSecrets(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "managed", 300*day, 200*day)
	f.seed(t, "other", 300*day, 200*day)
	r := f.runner(defaultPolicy, "managed")
	rep, err := r.Run(context.Background(), Options{Secrets: []string{"other"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Secrets[0].Refused == "" {
		t.Errorf("report = %+v, want refused", rep.Secrets[0])
	}
	if n := f.emu.Faults.TotalCalls(); n != 0 {
		t.Errorf("%d calls for an unmanaged secret, want none", n)
	}
	if _, err := r.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := f.states("other"); !eq(got, []string{"ENABLED", "ENABLED"}) {
		t.Errorf("unmanaged secret changed: %v", got)
	}
	if got := f.states("managed"); !eq(got, []string{"DISABLED", "ENABLED"}) {
		t.Errorf("managed secret: %v", got)
	}
	if _, _, err := r.Inspect(context.Background(), "other"); err == nil {
		t.Error("Inspect of an unmanaged secret succeeded")
	}
}

func TestRunMissingSecret(t *testing.T) {
	f := newFixture(t)
	rep, err := f.runner(defaultPolicy, "absent").Run(context.Background(), Options{})
	if err != nil {
		t.Fatalf("Run = %v, want a report of the missing secret, not a retry", err)
	}
	if !rep.Secrets[0].Missing {
		t.Errorf("report = %+v, want missing", rep.Secrets[0])
	}
}

func TestRunRetriesTransientErrors(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "k", 300*day, 200*day)
	f.emu.Faults.FailNext(mList, 2, faults.Fault{Code: codes.Unavailable})
	f.emu.Faults.FailNext(mDisable, 2, faults.Fault{Code: codes.Unavailable})
	if _, err := f.runner(defaultPolicy, "k").Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := f.states("k"); !eq(got, []string{"DISABLED", "ENABLED"}) {
		t.Errorf("states = %v", got)
	}
}

func TestRunPermanentErrorFailsTheRun(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "k", 300*day, 200*day)
	f.seed(t, "j", 300*day, 200*day)
	f.emu.Faults.FailNext(mDisable, 1, faults.Fault{Code: codes.PermissionDenied})
	rep, err := f.runner(defaultPolicy, "k", "j").Run(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "secretVersionManager") {
		t.Fatalf("Run = %v, want the permission error with its fix", err)
	}
	failed := 0
	for _, s := range rep.Secrets {
		if s.Failed() {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d secrets failed, want 1: one failure does not stop the other secrets", failed)
	}
}

func TestRunStaleEtagLeavesVersionAlone(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "k", 300*day, 200*day)
	var once sync.Once
	// Someone changes version 1 between our listing and our disable (an
	// enable of an enabled version still renews its etag).
	f.emu.Faults.OnCall(func(method string) {
		if method == mDisable {
			once.Do(func() {
				_, _ = f.emu.SecretManager.EnableSecretVersion(context.Background(), &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/" + project + "/secrets/k/versions/1"})
			})
		}
	})
	rep, err := f.runner(defaultPolicy, "k").Run(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "changed since it was listed") {
		t.Fatalf("Run = %v, want the stale etag reported", err)
	}
	if a := rep.Secrets[0].Actions[0]; a.Result != incident.ResultFailed {
		t.Errorf("action = %+v, want failed", a)
	}
	if got := f.states("k"); !eq(got, []string{"ENABLED", "ENABLED"}) {
		t.Errorf("states = %v", got)
	}
	// The redelivery re-reads and finishes.
	if _, err := f.runner(defaultPolicy, "k").Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if got := f.states("k"); !eq(got, []string{"DISABLED", "ENABLED"}) {
		t.Errorf("states = %v", got)
	}
}

func TestInspectMatchesRun(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "k", 120*day, 91*day)
	r := f.runner(defaultPolicy, "k")
	plan, missing, err := r.Inspect(context.Background(), "k")
	if err != nil || missing {
		t.Fatal(missing, err)
	}
	rep, err := r.Run(context.Background(), Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Due != rep.Secrets[0].Due || len(plan.Disable) != 1 || !plan.NextRotation.Equal(rep.Secrets[0].NextRotation) {
		t.Errorf("Inspect = %+v, Run = %+v", plan, rep.Secrets[0])
	}
	if f.emu.Faults.Calls(mGet) != 0 {
		t.Error("GetSecretVersion called: the listing has everything")
	}
}

func TestRotationRecordsTheNewKeysID(t *testing.T) {
	tests := []struct {
		name, response string
		recorded       string // "" for none
		detail         string
	}{
		{"key_id told", `{"key":"sk-new-KEY","key_id":"apikey_01Rj2N8SVvo6BePZj99NhmiT"}`, "apikey_01Rj2N8SVvo6BePZj99NhmiT", "(key apikey_01Rj2N8SVvo6BePZj99NhmiT)"},
		{"no key_id", `{"key":"sk-new-KEY"}`, "", "told no key_id"},
		{"key_id that is not an id", `{"key":"sk-new-KEY","key_id":"apikey x; drop"}`, "", "told no key_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ks := newKeyServer(t)
			ks.response.Store(tt.response)
			f.seed(t, "k", 120*day)
			r := f.withSource(t, f.runner(defaultPolicy, "k"), ks)
			var got []string
			r.RecordKeyID = func(_ context.Context, secret, version, keyID string) error {
				got = append(got, secret+"/"+version+"="+keyID)
				return nil
			}
			rep, err := r.Run(context.Background(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.recorded != "" {
				want = []string{"k/2=" + tt.recorded}
			}
			if !eq(got, want) {
				t.Errorf("recorded %v, want %v", got, want)
			}
			var detail string
			for _, a := range rep.Secrets[0].Actions {
				if a.Action == ActionAddVersion {
					detail = a.Detail
				}
			}
			if !strings.Contains(detail, tt.detail) || strings.Contains(detail, "sk-new-KEY") {
				t.Errorf("detail = %q, want %q and no key", detail, tt.detail)
			}
		})
	}
}
