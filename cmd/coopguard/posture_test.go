package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/functions/posture/posturetest"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/emulator"
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
	posturetest.SeedDemoPosture(emu, cfg)
	functions.SetEnv(env)
	t.Cleanup(func() { functions.SetEnv(nil) })
	mux := http.NewServeMux()
	mux.HandleFunc("/Posture", functions.Posture)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return clients, cfg, srv.URL
}

func TestPostureCommand(t *testing.T) {
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
	for _, want := range []string{"CHECK", "RESULT", "EVIDENCE", "FIX", "ssh-iap-only", "PASS", "12 passed, 0 failed, 0 could not run"} {
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
		{"table", nil, []string{"FAIL", "coopguard-status grants roles/run.invoker to allUsers", "gcloud run services remove-iam-policy-binding coopguard-status", "11 passed, 1 failed"}},
		{"json", []string{"--json"}, []string{`"status": "fail"`, `"check": "functions-authenticated"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(tt.args...)
			if err == nil || !strings.Contains(err.Error(), "1 check(s) fail: functions-authenticated") {
				t.Errorf("error = %v, want the failing check named (non-zero exit)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
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
