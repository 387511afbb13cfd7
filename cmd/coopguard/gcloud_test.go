package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestReadmeGcloudCommands runs the README's "inspect the emulated project
// with gcloud" commands, as written, with the real gcloud against `coopguard
// serve`: each principal's gcloud configuration works, IAM refuses the
// sandbox's account, and the audit log answers `gcloud logging read`.
func TestReadmeGcloudCommands(t *testing.T) {
	t.Parallel()
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
	// GCP's operation times on the emulated clock: the operator's stop
	// below takes its 90 s there, which gcloud's wait on the operation
	// moves the clock through, and none of the test's.
	server, _, stop := startServe(t, "--operations", "virtual")
	ctx := context.Background()
	resp, err := http.Post(server+"/Provision", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Provision = %d", resp.StatusCode)
	}
	// A human reads the README after the VM's watcher has reported; the
	// test waits for that report (the watcher backs off while the VM does
	// not exist yet) before it runs the commands.
	waitForWatcher(t, server)
	script := "set -euo pipefail\n" + strings.ReplaceAll(block, "127.0.0.1:8080", strings.TrimPrefix(server, "http://"))
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
		"HTTPError 403: Required 'compute.instances.stop' permission",
		"refused: the sandbox's account may not stop its VM",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	stop()
}

// waitForWatcher waits until the demo VM's agent watcher has written its
// guest attribute coopguard/agents, read as the VM reads it (its metadata
// server), which no Compute API rate limit counts.
func waitForWatcher(t *testing.T, server string) {
	t.Helper()
	resp, err := http.Get(server + "/EmulatorInfo")
	if err != nil {
		t.Fatal(err)
	}
	var info emulatorInfo
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET /EmulatorInfo: %v", err)
	}
	url := "http://" + info.MetadataServer + "/computeMetadata/v1/instance/guest-attributes/coopguard/agents"
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Metadata-Flavor", "Google")
		resp, err := http.DefaultClient.Do(req)
		last := fmt.Sprint(err)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo VM's watcher wrote no guest attribute coopguard/agents within 30 s (last answer: %s)", last)
		}
		<-time.After(50 * time.Millisecond)
	}
}
