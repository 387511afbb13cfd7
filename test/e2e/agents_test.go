package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cloudcoop/coopguard/provisioner/watcher"
)

// agents is a sandbox VM's agent side, for real: tmux sessions like
// cloudcoop's, and the coopguard watcher script talking to the VM's
// emulated metadata server.
type agents struct {
	tmuxDir  string
	sessions []string
}

// startAgents starts tmux sessions (one per repository, plus the older
// claude-agents session) and the watcher for instance name.
func startAgents(t *testing.T, w *world, name string) *agents {
	t.Helper()
	a := &agents{tmuxDir: t.TempDir(), sessions: []string{"claude-agents", "my-repo"}}
	for _, s := range a.sessions {
		a.tmux(t, "new-session", "-d", "-s", s, "sleep 3600")
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", a.socket(), "kill-server").Run() })
	if !a.alive(t, "claude-agents") {
		t.Fatal("tmux session did not start")
	}

	script := filepath.Join(t.TempDir(), "coopguard-watcher")
	if err := os.WriteFile(script, []byte(watcher.Script), 0o755); err != nil {
		t.Fatal(err)
	}
	host := w.emu.MetadataServer(w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone, name)
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(),
		"GCE_METADATA_HOST="+host,
		"COOPGUARD_TMUX_DIRS="+a.tmuxDir,
		"COOPGUARD_POLL_TIMEOUT=30",
	)
	cmd.Stderr = &testWriter{t: t}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return a
}

func (a *agents) socket() string {
	return filepath.Join(a.tmuxDir, "tmux-"+strconv.Itoa(os.Getuid()), "default")
}

func (a *agents) tmux(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("tmux", args...)
	cmd.Env = append(os.Environ(), "TMUX_TMPDIR="+a.tmuxDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
}

// alive reports whether the session still exists.
func (a *agents) alive(t *testing.T, session string) bool {
	t.Helper()
	return exec.Command("tmux", "-S", a.socket(), "has-session", "-t", session).Run() == nil
}

// testWriter forwards a child's stderr to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
