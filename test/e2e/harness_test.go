// Package e2e runs coopguard's functions in the real functions framework
// on loopback, over the emulated GCP, and drives them the way a user or
// Pub/Sub would.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// baseURL is the functions server every test shares: the framework's
// registry is global, so it is started once.
var baseURL string

func TestMain(m *testing.M) {
	os.Unsetenv("FUNCTION_TARGET")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	go func() {
		if err := funcframework.StartHostPort("127.0.0.1", strconv.Itoa(port)); err != nil {
			fmt.Fprintln(os.Stderr, "functions server:", err)
			os.Exit(1)
		}
	}()
	baseURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitListening(fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// waitListening polls until addr accepts connections or the deadline passes.
func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server at %s did not start: %w", addr, err)
		}
		pollPause()
	}
}

// pollPause spaces out connection attempts while polling with a deadline.
func pollPause() { <-time.After(5 * time.Millisecond) }

// world is one test's emulated GCP and the Env the functions use.
type world struct {
	emu     *emulator.Emulator
	cfg     *config.Config
	clients *gcp.Clients
	env     *functions.Env
	logs    *syncBuffer
}

// newWorld starts an emulated GCP seeded like the demo project, installs an
// Env on it for the functions server, and tears both down at the end.
func newWorld(t *testing.T, mutate ...func(*config.Config)) *world {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	base := config.Demo()
	for _, m := range mutate {
		m(&base)
	}
	cfg, err := config.FromBase(base, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range cfg.Coopguard.Secrets {
		emu.SecretManager.SeedSecret(cfg.Cloud.GCP.Project, id, []byte("sk-test-SECRET-PAYLOAD-"+id))
	}
	clients, err := emu.Clients(context.Background(), cfg.Cloud.GCP.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	logs := &syncBuffer{}
	env, err := functions.NewEnv(cfg, clients, logger.New(logs, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	functions.SetEnv(env)
	t.Cleanup(func() { functions.SetEnv(nil) })
	return &world{emu: emu, cfg: cfg, clients: clients, env: env, logs: logs}
}

// do sends a request to the functions server and returns status and body.
func do(t *testing.T, method, path, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, baseURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
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

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
