package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/demo"
)

// postureServer serves the Posture function for a provisioned demo
// sandbox on the emulated GCP, as `coopguard serve` does.
func postureServer(t *testing.T) (*gcp.Clients, *config.Config, string) {
	t.Helper()
	ctx := context.Background()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg, err := config.FromBase(config.Demo(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	seedDemo(emu, cfg)
	if err := emu.DeployConfig(cfg); err != nil {
		t.Fatal(err)
	}
	clients, err := emu.Clients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	env, err := functions.NewEnv(cfg, clients, logger.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Provisioner.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	demo.SeedDemoPosture(emu, cfg)
	mux := http.NewServeMux()
	mux.HandleFunc("/Posture", env.Posture)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return clients, cfg, srv.URL
}

func TestPostureCommand(t *testing.T) {
	t.Parallel()
	clients, cfg, server := postureServer(t)
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := runPosture(ctx, append(args, "--server", server), &out)
		return out.String(), err
	}

	out, err := run()
	if err != nil {
		t.Fatalf("posture on a provisioned demo: %v\n%s", err, out)
	}
	fits(t, out)
	for _, want := range []string{"CHECK", "RESULT", "ssh-iap-only", "PASS", fmt.Sprintf("%d passed, 0 failed, 0 could not run", len(posture.Checks()))} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// Drift: coopguard-status made public.
	res := "projects/" + cfg.Cloud.GCP.Project + "/locations/" + cfg.Region() + "/services/coopguard-status"
	pol := &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}}
	if _, err := clients.Services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"table", nil, []string{"FAIL", "coopguard-status grants roles/run.invoker to allUsers", "gcloud run services remove-iam-policy-binding coopguard-status", fmt.Sprintf("%d passed, 1 failed", len(posture.Checks())-1)}},
		{"json", []string{"--json"}, []string{`"status": "fail"`, `"check": "functions-authenticated"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(tt.args...)
			if err == nil || !strings.Contains(err.Error(), "1 check(s) fail: functions-authenticated") {
				t.Errorf("error = %v, want the failing check named (non-zero exit)", err)
			}
			if tt.name == "table" {
				fits(t, out)
			}
			flat := strings.Join(strings.Fields(out), " ")
			for _, w := range tt.want {
				if !strings.Contains(flat, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.name == "json" {
				var rep posture.Report
				if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Results) != len(posture.Checks()) {
					t.Errorf("--json is not a report (%v):\n%s", err, out)
				}
			}
		})
	}

	if _, err := run("extra"); !errors.Is(err, errUsage) {
		t.Errorf("extra argument: error = %v, want usage", err)
	}
}

func TestPostureOnlyGET(t *testing.T) {
	t.Parallel()
	_, _, server := postureServer(t)
	resp, err := http.Post(server+"/Posture", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet {
		t.Errorf("POST /Posture = %s, Allow %q; want 405, Allow GET", resp.Status, resp.Header.Get("Allow"))
	}
}

// TestReadmePostureSample: README's posture table is what a real run on
// a freshly provisioned demo prints — every check it shows has the same
// result, and the service-account-roles line (the sandbox's project-level
// roles) matches word for word. Lines with times and counts are compared
// by check and result only; checks the README does not show are allowed.
func TestReadmePostureSample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "From a real run of `coopguard serve` after `coopguard provision`")
	if !ok {
		t.Fatal("README has no posture sample")
	}
	_, rest, _ = strings.Cut(rest, "```\n")
	sample, _, _ := strings.Cut(rest, "```")
	_, _, server := postureServer(t)
	var out bytes.Buffer
	if err := runPosture(context.Background(), []string{"--server", server}, &out); err != nil {
		t.Fatalf("posture: %v\n%s", err, out.String())
	}
	real := postureLines(out.String())
	shown := postureLines(sample)
	if len(shown) == 0 {
		t.Fatalf("README's posture sample has no check lines:\n%s", sample)
	}
	for check, line := range shown {
		got, ok := real[check]
		switch {
		case !ok:
			t.Errorf("README shows check %s, which a real run does not print", check)
		case strings.Fields(got)[1] != strings.Fields(line)[1]:
			t.Errorf("README shows %s as %s, a real run prints:\n%s", check, strings.Fields(line)[1], got)
		case check == "service-account-roles" && strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(line), " "):
			t.Errorf("README's %s line differs from a real run:\nREADME: %s\nreal:   %s", check, line, got)
		}
	}
}

// fits fails the test when a line of the table is wider than a
// 100-column terminal, counting bytes: at least the columns any terminal
// shows ("→" is three bytes, one or two columns), and what byte-counting
// tools (awk, cut -b) see.
func fits(t *testing.T, table string) {
	t.Helper()
	for _, l := range strings.Split(table, "\n") {
		if n := len(l); n > tableWidth {
			t.Errorf("line of %d bytes, want at most %d columns:\n%s", n, tableWidth, l)
		}
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		s     string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"short line", 10, []string{"short line"}},
		{"one two three", 7, []string{"one two", "three"}},
		{"a  b\tc", 10, []string{"a b c"}},
		{"projects/p/alertPolicies/1 → x", 12, []string{"projects/p/a", "lertPolicies", "/1 → x"}},
		// "→" is three bytes: "/1 → x" is 8, "n/1 → x" would be 9.
		{"channel/1 → topic", 8, []string{"channel/", "1 →", "topic"}},
		{"é é é", 5, []string{"é é", "é"}},
		{"ééé", 3, []string{"é", "é", "é"}},
		{"ééé", 1, []string{"é", "é", "é"}},
	}
	for _, tt := range tests {
		if got := wrap(tt.s, tt.width); !slices.Equal(got, tt.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.s, tt.width, got, tt.want)
		}
	}
}

// postureLines maps each check's name to its table row and the evidence
// and fix lines wrapped under it.
func postureLines(table string) map[string]string {
	out := map[string]string{}
	var cur string
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && (f[1] == "PASS" || f[1] == "FAIL" || f[1] == "ERROR"):
			cur = f[0]
			out[cur] = l
		case cur != "" && strings.HasPrefix(l, " ") && len(f) > 0:
			out[cur] += "\n" + l
		default:
			cur = ""
		}
	}
	return out
}
