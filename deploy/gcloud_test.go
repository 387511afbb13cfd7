package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/deploy"
)

// authError is what gcloud says once a command's flags, values and resource
// names are valid and it needs credentials (exit 1). A bad flag exits 2; some
// bad values exit 1 with another message — so the message is what counts.
const authError = "You do not currently have an active account selected"

// TestGcloudAcceptsEveryCommand runs every command deploy.sh and
// undeploy.sh can run (both branches of each describe-then-create/update,
// with and without a key source and an invoker) through the real gcloud
// with an empty configuration: each must get as far as authentication.
func TestGcloudAcceptsEveryCommand(t *testing.T) {
	t.Parallel()
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Fatal("gcloud not found: install the Google Cloud CLI (this test runs every deploy command through it, offline)")
	}
	keySource := []string{"COOPGUARD_ROTATION_KEY_SOURCE_URL=https://keys.example/mint",
		"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET=mint-token", "INVOKER=user:oncall@example.com",
		"COOPGUARD_REVOKE_PROVIDER=anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET=anthropic-admin"}
	var all []deploy.Command
	for _, run := range []struct {
		script string
		env    []string
	}{
		// With a key source and an invoker each script prints a superset of
		// its commands without them.
		{"deploy.sh", keySource}, {"undeploy.sh", keySource},
	} {
		cmds, _ := dryRun(t, run.script, run.env...)
		all = append(all, cmds...)
	}
	seen := map[string]bool{}
	var cmds []deploy.Command
	for _, c := range all {
		if c.Args[0] != "gcloud" {
			t.Errorf("deploy runs a command that is not gcloud: %s", c)
			continue
		}
		if key := strings.Join(c.Args, "\x00"); !seen[key] {
			seen[key] = true
			cmds = append(cmds, c)
		}
	}

	// gcloud is a Python program that takes about a second to start:
	// run several at once (it waits on I/O part of the time), bounded.
	workers := min(8, 2*runtime.NumCPU())
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	start := time.Now()
	for _, c := range cmds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, code, err := runGcloud(t, gcloud, c.Args[1:])
			if err == nil && code == 1 && strings.Contains(out, authError) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, fmt.Sprintf("%s\n  exit %d, %v: %s", c, code, err, strings.TrimSpace(out)))
		}()
	}
	wg.Wait()
	t.Logf("%d distinct gcloud commands in %s (%d at a time)", len(cmds), time.Since(start).Round(time.Millisecond), workers)
	for _, f := range failures {
		t.Errorf("gcloud rejects a deploy command (fix the flag or value in deploy/*.sh):\n%s", f)
	}
}

// runGcloud runs gcloud with an empty, private configuration (no account,
// no project, no metadata server lookups), bounded in time.
func runGcloud(t *testing.T, gcloud string, args []string) (string, int, error) {
	cfg, err := os.MkdirTemp(t.TempDir(), "gcloud")
	if err != nil {
		return "", -1, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gcloud, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + cfg,
		"CLOUDSDK_CONFIG=" + cfg,
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=1",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"CLOUDSDK_CORE_DISABLE_FILE_LOGGING=1",
	}
	// Prefer the Python bundled with the CLI: it has the precompiled
	// modules, and skips shims (pyenv) in front of python3.
	if py := filepath.Join(filepath.Dir(filepath.Dir(realPath(gcloud))), "platform", "bundledpythonunix", "bin", "python3"); fileExists(py) {
		cmd.Env = append(cmd.Env, "CLOUDSDK_PYTHON="+py)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode(), nil
	}
	if ctx.Err() != nil {
		return string(out), -1, fmt.Errorf("timed out after 60s")
	}
	return string(out), 0, err
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
