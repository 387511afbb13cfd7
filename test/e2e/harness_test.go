// Package e2e runs coopguard's functions in the real functions framework
// on loopback, over the emulated GCP, and drives them the way a user or
// Pub/Sub would.
package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/fixture"
)

func TestMain(m *testing.M) {
	os.Unsetenv("FUNCTION_TARGET")
	// Capture before any goroutine starts: they read os.Stdout/os.Stderr.
	realErr := os.Stderr
	captured := captureOutput()
	code := m.Run()
	if leaked := leaks(captured()); leaked != "" {
		fmt.Fprintf(realErr, "SECRETS HYGIENE: a secret payload or credential (%q) appeared in the process output\n", leaked)
		code = 1
	}
	os.Exit(code)
}

// secretMarkers are substrings of every secret payload and credential the
// tests seed or mint: none may appear in a log line, an error, a report or
// a response.
var secretMarkers = []string{fixture.SecretMarker, "sk-ant-e2e-MINTED", "e2e-CRED-value", "e2e-ADMINKEY"}

// leaks returns the first secret marker found in s, or "".
func leaks(s string) string {
	for _, m := range secretMarkers {
		if strings.Contains(s, m) {
			return m
		}
	}
	return ""
}

// captureOutput tees the process's stdout and stderr (where the functions
// framework writes function errors) into a buffer, and returns a function
// that ends the capture and returns what was written. The variables are
// swapped once, before any goroutine runs, and never restored: the server
// goroutine may still be writing when the tests end.
func captureOutput() func() string {
	var buf fixture.Buffer
	var wg sync.WaitGroup
	var writers []*os.File
	for _, f := range []**os.File{&os.Stdout, &os.Stderr} {
		r, w, err := os.Pipe()
		if err != nil {
			continue
		}
		orig := *f
		*f = w
		writers = append(writers, w)
		wg.Go(func() { _, _ = io.Copy(io.MultiWriter(orig, &buf), r) })
	}
	return func() string {
		for _, w := range writers {
			w.Close()
		}
		wg.Wait()
		return buf.String()
	}
}

// pollPause spaces out connection attempts while polling with a deadline.
func pollPause() { <-time.After(5 * time.Millisecond) }

// world is one test's emulated GCP, the Env the functions use on it, and
// the functions served on that Env in the real Functions Framework.
type world struct {
	emu *emulator.Emulator
	cfg *config.Config
	// clients act as the responder; operator as the project's owner.
	clients  *gcp.Clients
	operator *gcp.Clients
	env      *functions.Env
	logs     *fixture.Buffer
	// url is where the functions answer: url/NAME.
	url string
}

// newWorld starts an emulated GCP seeded like the demo project, builds an
// Env on it, serves the functions on that Env, and tears it all down at
// the end. Worlds share nothing: tests on worlds of their own run in
// parallel.
func newWorld(t *testing.T, mutate ...func(*config.Config)) *world {
	t.Helper()
	f := fixture.NewFunctions(t, mutate...)
	w := &world{emu: f.Emu, cfg: f.Cfg, clients: f.Clients, operator: f.Operator, env: f.Env, logs: f.Logs, url: f.Serve(t)}
	t.Cleanup(func() { w.checkHygiene(t) })
	return w
}

// do sends a request to the world's functions and returns status and body.
func (w *world) do(t *testing.T, method, path, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, w.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(t, req)
}

// send sends req and returns the answer's status and body.
func send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// checkHygiene fails the test if a secret reached this world's logs, the
// incident reports in Cloud Logging or any Pub/Sub message.
func (w *world) checkHygiene(t *testing.T) {
	t.Helper()
	if m := leaks(w.logs.String()); m != "" {
		t.Errorf("secret %q in the functions' logs", m)
	}
	for _, e := range w.emu.Logging.AllEntries() {
		if m := leaks(e.String()); m != "" {
			t.Errorf("secret %q in log entry %s", m, e.GetLogName())
		}
	}
	for _, msg := range w.emu.PubSub.Messages() {
		if m := leaks(string(msg.Data) + fmt.Sprint(msg.Attributes)); m != "" {
			t.Errorf("secret %q in a message on %s", m, msg.Topic)
		}
	}
}
