package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/attack"
	"github.com/cloudcoop/coopguard/functions"
)

// TestReviewOfADrilledProject: `coopguard review --since 7d` on an
// emulated project where the agent read its key and a drill was
// contained: the first review lists what happened
// and marks nothing new; after the drill the next one marks the drill's
// method new (and the key read not), lists the incident with its outcome,
// the key's readers by principal, in markdown and in the
// HTML page. A window beyond Logging's retention is refused.
func TestReviewOfADrilledProject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, err := attack.Start(ctx, attack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	secret := "projects/" + w.Cfg.Cloud.GCP.Project + "/secrets/" + w.Cfg.Coopguard.Secrets[0] + "/versions/latest"
	if _, err := w.Agent.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secret}); err != nil {
		t.Fatalf("the agent reads its key: %v", err)
	}
	const week = 7 * 24 * time.Hour
	var first bytes.Buffer
	if err := writeReview(ctx, w.Env, functions.ReviewOptions{Since: week, Record: true}, "", false, &first); err != nil {
		t.Fatal(err)
	}
	const read = "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"
	for _, want := range []string{"# Weekly review of " + w.Cfg.Cloud.GCP.Project, "First review of this sandbox", "| `" + read + "` | 1 | 0 |  |",
		"| `" + w.Cfg.Cloud.GCP.ServiceAccount + "` (the sandbox) | 1 | 0 |", "No incident."} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("the first review lacks %q:\n%s", want, first.String())
		}
	}

	s, err := attack.Find("firewall-widen")
	if err != nil {
		t.Fatal(err)
	}
	r, err := attack.Run(ctx, w, s, attack.RunOptions{})
	if err != nil || !r.Passed() || len(r.Incidents) != 1 {
		t.Fatalf("drill: %v (passed %v, result %+v)", err, r != nil && r.Passed(), r)
	}
	inc := r.Incidents[0]

	page := filepath.Join(t.TempDir(), "review.html")
	var second bytes.Buffer
	if err := writeReview(ctx, w.Env, functions.ReviewOptions{Since: week, Record: true}, page, false, &second); err != nil {
		t.Fatal(err)
	}
	md := second.String()
	const patch = "v1.compute.firewalls.patch"
	for _, want := range []string{"| `" + patch + "` | 0 | 1 | **NEW** |", "| `" + read + "` | 1 | 0 |  |",
		"| `" + inc.Incident.ID + "` | contain |", "| " + inc.Outcome + " | " + "still open |", "wrote the review as html to " + page} {
		if !strings.Contains(md, want) {
			t.Errorf("the review after the drill lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "First review") {
		t.Error("the second review says it is the first")
	}
	if strings.Index(md, patch) > strings.Index(md, read) {
		t.Error("the new method is not listed first")
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<tr data-method="` + patch + `" data-new="true">`, `<tr data-method="` + read + `">`,
		`data-incident="` + inc.Incident.ID + `" data-outcome="` + inc.Outcome + `"`, `data-principal="` + w.Cfg.Cloud.GCP.ServiceAccount + `"`, "<!DOCTYPE html>"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the HTML page lacks %q", want)
		}
	}

	// What a review saw is not new to the next.
	var third bytes.Buffer
	if err := writeReview(ctx, w.Env, functions.ReviewOptions{Since: week}, "", false, &third); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(third.String(), "**NEW**") {
		t.Errorf("a third review still marks something new:\n%s", third.String())
	}

	// --sandbox: the command the weekly notification gives each sandbox.
	var one bytes.Buffer
	if err := writeReview(ctx, w.Env, functions.ReviewOptions{Since: week, Sandbox: w.Cfg.VM.Name}, "", false, &one); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(one.String(), "## Sandbox "+w.Cfg.VM.Name+"\n") || strings.Count(one.String(), "## Sandbox ") != 1 {
		t.Errorf("--sandbox %s reviews:\n%s", w.Cfg.VM.Name, one.String())
	}
	err = writeReview(ctx, w.Env, functions.ReviewOptions{Since: week, Sandbox: "no-such-sandbox"}, "", false, &bytes.Buffer{})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), `no sandbox "no-such-sandbox"`) || !strings.Contains(err.Error(), w.Cfg.VM.Name) {
		t.Errorf("--sandbox no-such-sandbox = %v, want a usage error listing the sandboxes", err)
	}

	// Without --config: through the deployment's ReviewReport, rendered
	// here; its refusals are usage errors too.
	srv := httptest.NewServer(http.HandlerFunc(w.Env.ReviewReport))
	defer srv.Close()
	var served bytes.Buffer
	if err := runReview(ctx, []string{"--server", srv.URL, "--since", "7d", "--sandbox", w.Cfg.VM.Name, "--no-record"}, &served); err != nil {
		t.Fatalf("review --server: %v", err)
	}
	if !strings.Contains(served.String(), "## Sandbox "+w.Cfg.VM.Name+"\n") || !strings.Contains(served.String(), "| `"+read+"` |") {
		t.Errorf("review --server printed:\n%s", served.String())
	}
	for _, args := range [][]string{{"--since", "31d"}, {"--sandbox", "no-such-sandbox"}} {
		err := runReview(ctx, append([]string{"--server", srv.URL}, args...), &bytes.Buffer{})
		if !errors.Is(err, errUsage) {
			t.Errorf("review --server %v = %v, want a usage error", args, err)
		}
	}

	err = writeReview(ctx, w.Env, functions.ReviewOptions{Since: 31 * 24 * time.Hour}, "", false, &bytes.Buffer{})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "retention") {
		t.Errorf("--since 31d = %v, want a usage error naming Logging's retention", err)
	}
}
