package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// evil is text an attacker controls (an event's summary, a VM log name):
// markup, a script, a link, terminal escapes and a bidi override.
const evil = "<script>alert(1)</script> [click](https://evil.example) **x** | www.evil.example \x1b[31m\u202e"

// sample is a contained incident with every kind of evidence, and
// attacker text wherever a report carries outside text.
func sample() *incident.Report {
	t0 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	return &incident.Report{
		Incident: incident.Incident{ID: "log-canary-1", Source: "log", Trigger: "canary-access", Playbook: "contain", Severity: "CRITICAL",
			Project: "coopguard-local", Summary: evil, StartedAt: t0},
		Instance: "claude-sandbox", Outcome: incident.OutcomeContained, ReceivedAt: t0, FinishedAt: at(900),
		ContainmentSeconds: 0.9, CriticalPathSeconds: 0.8,
		Actions: []incident.ActionResult{
			{Action: "label-incident", Result: "done", Start: at(10), End: at(40), Seconds: 0.03},
			{Action: "disable-secrets", Result: "done", Detail: "disabled 1 version", Changed: []string{"projects/1/secrets/k/versions/1"}, Start: at(10), End: at(600), Seconds: 0.59},
			{Action: "stop-vm", Result: "done", Start: at(20), End: at(300), Seconds: 0.28},
			{Action: "stop-agents", Result: "failed", Reason: evil, Start: at(20), End: at(700), Seconds: 0.68},
			{Action: "collect-logs", Result: "done", Start: at(700), End: at(900), Seconds: 0.2},
		},
		Evidence: &incident.Evidence{From: t0.Add(-30 * time.Minute), To: at(900),
			Audit: &incident.AuditEvidence{Source: incident.FromOutside, Principal: "cc-sandbox@coopguard-local.iam.gserviceaccount.com", Entries: 2, Allowed: 2,
				First: t0, Last: t0, Methods: []incident.Count{{Name: "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion", Count: 2}}},
			NAT: &incident.NATEvidence{Source: incident.FromOutside, Logging: "all", Entries: 1, Translated: 1, First: t0, Last: t0,
				Destinations: []incident.Count{{Name: "198.51.100.23:443/tcp", Count: 1}}},
			VM: &incident.LogExcerpt{Source: incident.FromVM, Entries: 1, BySeverity: map[string]int{"INFO": 1}, First: []string{evil}},
		},
	}
}

// TestMarkdownSections: the document has every section, in order, says
// which evidence is from outside the VM and which is untrusted, and no
// outside text can make markup, links or escape sequences.
func TestMarkdownSections(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, sample()); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	pos := -1
	for _, s := range Sections {
		i := strings.Index(doc, "\n## "+s+"\n")
		if i < 0 {
			t.Fatalf("no section %q:\n%s", s, doc)
		}
		if i < pos {
			t.Errorf("section %q out of order", s)
		}
		pos = i
	}
	for _, want := range []string{
		"Cloud Audit Logs", "AccessSecretVersion ×2", "198.51.100.23:443/tcp ×1",
		"from Google Cloud (outside the VM)", "written from inside the VM: untrusted",
		"coopguard resolve log-canary-1 --restore", "stop-agents", "█",
	} {
		if !strings.Contains(doc, md(want)) && !strings.Contains(doc, want) {
			t.Errorf("the document lacks %q:\n%s", want, doc)
		}
	}
	for _, bad := range []string{"<script>", "[click](", "**x**", "https://evil", "www.evil", "\x1b", "\u202e", " | www"} {
		if strings.Contains(doc, bad) {
			t.Errorf("outside text reached the document raw: %q", bad)
		}
	}
	if n := strings.Count(doc, "\n## "); n != len(Sections) {
		t.Errorf("%d second-level headings, want %d: outside text made a heading", n, len(Sections))
	}
}

// TestMarkdownWithoutActions: a refused incident still has every section.
func TestMarkdownWithoutActions(t *testing.T) {
	var b bytes.Buffer
	rep := &incident.Report{Incident: incident.Incident{ID: "x"}, Outcome: incident.OutcomeRefused, Reason: "not a sandbox"}
	if err := Markdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range Sections {
		if !strings.Contains(b.String(), "## "+s+"\n") {
			t.Errorf("no section %q", s)
		}
	}
}

// TestTimeline: bars sit where their actions ran, on an axis as long as
// the last one.
func TestTimeline(t *testing.T) {
	bars, span := Timeline(sample())
	if len(bars) != 5 || span != 0.9 {
		t.Fatalf("%d bars over %.3fs, want 5 over 0.900s", len(bars), span)
	}
	if b := bars[3]; b.Action != "stop-agents" || b.Start != 0.02 || b.End != 0.7 || b.Status != incident.ResultFailed {
		t.Errorf("stop-agents bar = %+v", b)
	}
}
