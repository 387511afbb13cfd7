package review

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sample is a review with one of everything, and hostile text where GCP
// or the incident store supply it.
func sample() *Review {
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	return &Review{Project: "p", From: t0.Add(-7 * 24 * time.Hour), To: t0, Drift: []Drift{{Check: "no-external-ip", Status: "fail", Evidence: "<b>x</b>"}},
		Sandboxes: []Sandbox{{Name: "claude-sandbox", Account: "sa@p.iam.gserviceaccount.com",
			Methods:      []Method{{Name: "v1.compute.firewalls.patch", Denied: 1, New: true}, {Name: "<script>alert(1)</script>", Allowed: 3}},
			SecretReads:  []Reader{{Principal: "dev@example.com", Reads: 2, Secrets: []string{"anthropic-api-key"}}},
			Destinations: []Destination{{Name: "198.51.100.23:443/tcp", Count: 4, New: true}},
			Incidents:    []Incident{{ID: "log-1", Playbook: "contain", Trigger: "sandbox-sa-denied", Outcome: "complete", ReceivedAt: t0, Ended: EndedOpen}},
			Keys:         []Key{{Secret: "anthropic-api-key", Version: "1", State: "ENABLED", CreatedAt: t0, Age: "3d"}}}}}
}

// chromium is the headless browser the page is tested in (`make
// chromium` installs it); a missing one fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: the review page is tested in headless Chromium; install it with `make chromium`")
	return ""
}

// TestReviewHTMLRendersInChromium: the page, opened from a file with no
// network, renders in headless Chromium; its DOM has the new method
// marked, the incident with its outcome, and the hostile method name as
// text, not as an element.
func TestReviewHTMLRendersInChromium(t *testing.T) {
	page := filepath.Join(t.TempDir(), "review.html")
	var b bytes.Buffer
	if err := HTML(&b, sample()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var dom []byte
	// Chromium sometimes dies of a signal while it starts on a loaded
	// machine: that crash is tried again, at most 3 runs.
	for run := 1; ; run++ {
		cmd := exec.CommandContext(ctx, chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
			"--disable-dev-shm-usage", "--disable-extensions", "--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			dom = out
			break
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Exited() || ctx.Err() != nil || run == 3 {
			t.Fatalf("chromium (run %d): %v\n%s", run, err, stderr.String())
		}
	}
	got := string(dom)
	for _, want := range []string{`<tr data-method="v1.compute.firewalls.patch" data-new="true">`, `<span class="new">NEW</span>`,
		`data-incident="log-1" data-outcome="complete"`, `<td class="open">still open</td>`, `data-destination="198.51.100.23:443/tcp" data-new="true"`,
		"&lt;script&gt;alert(1)&lt;/script&gt;", "<h2>" + SectionDrift + "</h2>"} {
		if !strings.Contains(got, want) {
			t.Errorf("the rendered DOM lacks %q", want)
		}
	}
	if strings.Contains(got, "<script>") || strings.Contains(got, "<b>x</b>") {
		t.Error("text from the review became markup")
	}
}

// TestReviewMarkdownEscapes: names from GCP cannot add markup or break a
// table row; the summary names the command that reads the review.
func TestReviewMarkdownEscapes(t *testing.T) {
	r := sample()
	r.Sandboxes[0].Methods[1].Name = "a|b`c\nd"
	r.Drift[0].Fix = "see www.evil.example \u202e"
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "www.evil") || strings.Contains(b.String(), "\u202e") {
		t.Errorf("a link or a bidi override reached the markdown:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "| `a?b?c\\u000ad` | 3 | 0 |  |") || !strings.Contains(b.String(), "| `v1.compute.firewalls.patch` | 0 | 1 | **NEW** |") {
		t.Errorf("markdown:\n%s", b.String())
	}
	if s := r.Summary(); !strings.Contains(s, "1 new method(s)") || !strings.Contains(s, "1 incident(s) (1 still open)") || !strings.HasSuffix(s, "coopguard review --since 7d") {
		t.Errorf("summary = %q", s)
	}
}
