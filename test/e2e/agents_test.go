package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// agents is a sandbox VM's agent side, for real: tmux sessions like
// cloudcoop's, run as an agent user, and the coopguard watcher script
// talking to the VM's emulated metadata server.
//
// Run as root (as on the test machine), the agents are a UID of their own
// that no account uses, the watcher runs as root as under systemd, and a
// root tmux server beside them stands for what is not an agent's. Run as
// anyone else, the agents are the test's own user, whose processes the
// watcher never kills (it would kill itself), so what only root can show
// is left out.
type agents struct {
	// uid is the agent user; root tells whether the test runs as root.
	uid  int
	root bool
	// tmuxDir holds the tmux-UID socket directories the watcher scans.
	tmuxDir  string
	sessions []string
	// stray is an agent process outside tmux (root only); strayDone is
	// closed when it has ended.
	stray     *exec.Cmd
	strayDone chan struct{}
	// docker is the VM's Docker Engine (nil when it is a silent socket).
	docker *dockerEngine
	// host is the VM's metadata server (GCE_METADATA_HOST); name the VM.
	host string
	name string
	// watcher is the watcher's process; log what it wrote.
	watcher *exec.Cmd
	log     *fixture.Buffer
	stopped sync.Once
}

// agentOptions make the VM hostile to the watcher.
type agentOptions struct {
	// silent adds, in the agent's tmux socket directory, a socket that
	// accepts and never answers (as the agent user), and makes Docker's
	// socket such a one too.
	silent bool
}

// startAgents starts tmux sessions (one per repository, plus the older
// claude-agents session) as an agent user, and the watcher for instance
// name.
func startAgents(t *testing.T, w *world, name string, opts ...agentOptions) *agents {
	t.Helper()
	var o agentOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	a := &agents{uid: os.Getuid(), root: os.Getuid() == 0, sessions: []string{"claude-agents", "my-repo"}, log: &fixture.Buffer{}}
	if a.root {
		a.uid = 1_900_000_000 + rand.IntN(100_000_000)
	}
	// Shared like /tmp, so the agent user can make its tmux-UID directory.
	dir, err := os.MkdirTemp("", "coopguard-agents-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	a.tmuxDir = dir
	for _, s := range a.sessions {
		a.tmux(t, a.uid, "new-session", "-d", "-s", s, "sleep 3600")
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", a.socket(), "kill-server").Run() })
	if !a.alive(t, "claude-agents") {
		t.Fatal("tmux session did not start")
	}
	if a.root {
		// Root's own tmux server: not an agent user's, so never touched.
		a.tmux(t, 0, "new-session", "-d", "-s", "operator", "sleep 3600")
		t.Cleanup(func() { _ = exec.Command("tmux", "-S", a.socketOf(0), "kill-server").Run() })
		// An agent running outside tmux.
		a.stray = exec.Command("sleep", "3600")
		a.stray.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.uid)}}
		if err := a.stray.Start(); err != nil {
			t.Fatal(err)
		}
		a.strayDone = make(chan struct{})
		go func() { _ = a.stray.Wait(); close(a.strayDone) }()
		t.Cleanup(func() { _ = a.stray.Process.Kill(); <-a.strayDone })
	}

	a.host, a.name = w.emu.MetadataServer(w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone, name), name
	env := []string{
		"GCE_METADATA_HOST=" + a.host,
		"COOPGUARD_AGENT_USERS=" + strconv.Itoa(a.uid),
		"COOPGUARD_TMUX_DIRS=" + a.tmuxDir,
		"COOPGUARD_POLL_TIMEOUT=30",
	}
	dockerSock := filepath.Join(a.tmuxDir, "docker.sock")
	if o.silent {
		silentSocket(t, filepath.Join(a.tmuxDir, "tmux-"+strconv.Itoa(a.uid), "0-silent"), a.uid)
		silentSocket(t, dockerSock, os.Getuid())
	} else {
		a.docker = startDockerEngine(t, dockerSock, "4c01db0b339c", "9f2a6c1d0e77")
	}
	// Never this machine's containers: the Docker CLI talks only to the
	// test's engine (the environment's DOCKER_* are dropped below).
	env = append(env, "DOCKER_HOST=unix://"+dockerSock)
	script := filepath.Join(t.TempDir(), "coopguard-watcher")
	if err := os.WriteFile(script, []byte(watcher.Script), 0o755); err != nil {
		t.Fatal(err)
	}
	a.watcher = exec.Command("sh", script)
	bin := vmClock(t)
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "DOCKER_"):
		case strings.HasPrefix(kv, "PATH="):
			a.watcher.Env = append(a.watcher.Env, "PATH="+bin+":"+strings.TrimPrefix(kv, "PATH="))
		default:
			a.watcher.Env = append(a.watcher.Env, kv)
		}
	}
	a.watcher.Env = append(a.watcher.Env, env...)
	a.watcher.Stderr = io.MultiWriter(&testWriter{t: t}, a.log)
	a.watcher.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.watcher.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.killWatcher)
	return a
}

// awaitAck waits, in real time and at most 30 s, until the watcher has
// answered the flag of incident id (guest attribute coopguard/agents =
// "stopped <id> <time>"), and returns the answer. A real VM has its stop's
// 90 s for that; a test that then moves the emulated clock past the stop
// would otherwise cut the watcher off mid-work, which no real stop does.
func (a *agents) awaitAck(t *testing.T, w *world, id string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, _ := w.emu.Compute.GuestAttribute(w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone, a.name, "coopguard", "agents")
		if strings.HasPrefix(v, "stopped "+id+" ") {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not answer the flag of %s within 30 s (attribute %q); its log:\n%s", id, v, a.log)
		}
		pollPause()
	}
}

// killWatcher kills the watcher and everything it started, as an attacker
// with sudo can.
func (a *agents) killWatcher() {
	a.stopped.Do(func() {
		_ = syscall.Kill(-a.watcher.Process.Pid, syscall.SIGKILL)
		_ = a.watcher.Wait()
	})
}

// silentSocket listens on a unix socket at path, owned by uid, that
// accepts every connection and never answers, until the test ends.
func silentSocket(t *testing.T, path string, uid int) string {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(path, uid, uid); err != nil && !errors.Is(err, os.ErrPermission) {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	return path
}

func (a *agents) socket() string { return a.socketOf(a.uid) }

func (a *agents) socketOf(uid int) string {
	return filepath.Join(a.tmuxDir, "tmux-"+strconv.Itoa(uid), "default")
}

// tmux runs a tmux command as uid.
func (a *agents) tmux(t *testing.T, uid int, args ...string) {
	t.Helper()
	cmd := exec.Command("tmux", args...)
	cmd.Env = append(os.Environ(), "TMUX_TMPDIR="+a.tmuxDir, "SHELL=/bin/sh", "HOME="+a.tmuxDir)
	if uid != os.Getuid() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux %v as UID %d: %v: %s", args, uid, err, out)
	}
}

// alive reports whether the agent's session still exists.
func (a *agents) alive(t *testing.T, session string) bool {
	t.Helper()
	return exec.Command("tmux", "-S", a.socket(), "has-session", "-t", session).Run() == nil
}

// operatorAlive reports whether root's own tmux session still exists.
func (a *agents) operatorAlive() bool {
	return exec.Command("tmux", "-S", a.socketOf(0), "has-session", "-t", "operator").Run() == nil
}

// strayAlive reports whether the agent process outside tmux still runs.
func (a *agents) strayAlive() bool {
	if a.stray == nil {
		return false
	}
	select {
	case <-a.strayDone:
		return false
	default:
		return true
	}
}

// dockerEngine is the VM's Docker Engine, as far as the watcher uses it
// (https://docs.docker.com/reference/api/engine/: GET /_ping answers "OK"
// with the API-Version header the CLI negotiates down to; GET
// /containers/json lists the running containers; POST
// /containers/{id}/kill kills one and answers 204), on a unix socket the
// real Docker CLI reaches through DOCKER_HOST.
type dockerEngine struct {
	mu      sync.Mutex
	running []string
}

// startDockerEngine serves an engine with the running containers ids at
// path until the test ends.
func startDockerEngine(t *testing.T, path string, ids ...string) *dockerEngine {
	t.Helper()
	d := &dockerEngine{running: ids}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(d.serve)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return d
}

func (d *dockerEngine) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", "1.45")
	w.Header().Set("Ostype", "linux")
	p := r.URL.Path
	if v, rest, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/"); ok && strings.HasPrefix(v, "v1.") {
		p = "/" + rest
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch id, verb, _ := strings.Cut(strings.TrimPrefix(p, "/containers/"), "/"); {
	case p == "/_ping":
		_, _ = io.WriteString(w, "OK")
	case r.Method == http.MethodGet && p == "/containers/json":
		list := []map[string]any{}
		for _, c := range d.running {
			list = append(list, map[string]any{"Id": c, "Names": []string{"/agent-" + c[:4]}, "State": "running", "Status": "Up 1 hour"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/containers/") && verb == "kill":
		i := slices.IndexFunc(d.running, func(c string) bool { return strings.HasPrefix(c, id) })
		if i < 0 {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"No such container: `+id+`"}`)
			return
		}
		d.running = slices.Delete(d.running, i, i+1)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"page not found"}`)
	}
}

// Running lists the containers still running.
func (d *dockerEngine) Running() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.running)
}

// testWriter forwards a child's stderr to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// vmDate is the emulated VM's `date +%s`: a GCE VM keeps GCP's time (it
// syncs with the metadata server), and the emulated project's time is the
// emulator's clock, which moves ahead of this machine's when a test waits
// on an operation (emulator.GCPTime). It reads that time from the Date
// header the emulated metadata server sends, and is the machine's own date
// for anything else or when the server does not answer.
const vmDate = `#!/bin/sh
if [ "$#" = 1 ] && [ "$1" = "+%s" ] && [ -n "$GCE_METADATA_HOST" ]; then
	d=$(curl -sS -I --max-time 2 -H 'Metadata-Flavor: Google' "http://$GCE_METADATA_HOST/computeMetadata/v1/" 2>/dev/null |
		sed -n 's/^[Dd]ate: //p' | tr -d '\r')
	[ -n "$d" ] && exec /usr/bin/date -d "$d" +%s
fi
exec /usr/bin/date "$@"
`

// vmClock writes vmDate as `date` into a directory for the watcher's PATH.
func vmClock(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "date"), []byte(vmDate), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
