package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

	// gcloud is a Python program that takes seconds to start: one
	// process runs every command through gcloud's own entry point.
	// A flag gcloud does not know must come back refused (exit 2): the
	// batch sees rejections.
	bogus := []string{"pubsub", "topics", "describe", "coopguard-x", "--project", testProject, "--no-such-flag"}
	args := [][]string{bogus}
	for _, c := range cmds {
		args = append(args, c.Args[1:])
	}
	start := time.Now()
	results, err := runGcloud(t, gcloud, args)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d distinct gcloud commands in one gcloud process in %s", len(cmds), time.Since(start).Round(time.Millisecond))
	if r := results[0]; r.Code != 2 || !strings.Contains(r.Out, "unrecognized arguments") {
		t.Fatalf("gcloud %s: exit %d, want 2 (unrecognized arguments): %s", strings.Join(bogus, " "), r.Code, r.Out)
	}
	for i, c := range cmds {
		if r := results[i+1]; r.Code != 1 || !strings.Contains(r.Out, authError) {
			t.Errorf("gcloud rejects a deploy command (fix the flag or value in deploy/*.sh):\n%s\n  exit %d: %s", c, r.Code, strings.TrimSpace(r.Out))
		}
	}
}

// gcloudResult is one command's exit code and output.
type gcloudResult struct {
	Code int    `json:"code"`
	Out  string `json:"out"`
}

// runGcloud runs each of cmds (gcloud's arguments) through gcloud, in one
// Python process (testdata/gcloud_batch.py) with an empty, private
// configuration (no account, no project, no metadata server lookups),
// bounded in time.
func runGcloud(t *testing.T, gcloud string, cmds [][]string) ([]gcloudResult, error) {
	t.Helper()
	cfg := t.TempDir()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, args := range cmds {
		if err := enc.Encode(args); err != nil {
			return nil, err
		}
	}
	sdk := filepath.Dir(filepath.Dir(realPath(gcloud)))
	// Prefer the Python bundled with the CLI: it has the precompiled
	// modules, and skips shims (pyenv) in front of python3.
	py := filepath.Join(sdk, "platform", "bundledpythonunix", "bin", "python3")
	if !fileExists(py) {
		py = "python3"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, filepath.Join("testdata", "gcloud_batch.py"), filepath.Join(sdk, "lib"))
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
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("gcloud (%s) timed out after 5 minutes: %s", py, stderr.String())
	}
	if err != nil {
		return nil, fmt.Errorf("gcloud (%s testdata/gcloud_batch.py): %w: %s", py, err, stderr.String())
	}
	var results []gcloudResult
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var r gcloudResult
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read gcloud's results: %w", err)
		}
		results = append(results, r)
	}
	if len(results) != len(cmds) {
		return nil, fmt.Errorf("gcloud answered %d of %d commands: %s", len(results), len(cmds), stderr.String())
	}
	return results, nil
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
