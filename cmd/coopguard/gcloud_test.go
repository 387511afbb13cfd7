package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeGcloudCommands runs the README's "inspect the emulated project
// with gcloud" commands, as written, with the real gcloud against `coopguard
// serve`: each principal's gcloud configuration works, IAM refuses the
// sandbox's account, and the audit log answers `gcloud logging read`.
func TestReadmeGcloudCommands(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Fatal("gcloud is not installed: this machine should have the Google Cloud CLI (see README, Tests)")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- gcloud-commands -->\n```sh\n")
	block, _, ok2 := strings.Cut(block, "```\n<!-- /gcloud-commands -->")
	if !ok || !ok2 {
		t.Fatal("README has no gcloud-commands block")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var serveOut bytes.Buffer
	served := make(chan error, 1)
	go func() {
		served <- realMain(ctx, []string{"serve", "--port", port, "--operations", "compressed"}, &serveOut)
	}()
	waitFor(t, "127.0.0.1:"+port)
	resp, err := http.Post("http://127.0.0.1:"+port+"/Provision", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Provision = %d", resp.StatusCode)
	}
	script := "set -euo pipefail\n" + strings.ReplaceAll(block, "127.0.0.1:8080", "127.0.0.1:"+port)
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(os.Environ(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README gcloud commands: %v\n%s", err, out)
	}
	for _, want := range []string{
		"RUNNING\tcoopguard-sandbox=claude-sandbox",
		"coopguard  agents",
		"coopguard-provisioner@coopguard-local.iam.gserviceaccount.com",
		"PERMISSION_DENIED: Required 'compute.instances.stop' permission",
		"refused: the sandbox's account may not stop its VM",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}
