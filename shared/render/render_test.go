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

// following is sample as it stands while its follow-up runs: contained,
// the VM still stopping, the snapshot and the logs waiting for it, with
// long unbroken outside text in the columns that wrap.
func following() *incident.Report {
	rep := sample()
	rep.FollowUp = incident.FollowUpRunning
	rep.Evidence = nil
	rep.Actions = rep.Actions[:4]
	rep.Actions[3].Reason = strings.Repeat("agent-did-not-answer-the-flag/", 12)
	at := rep.ReceivedAt.Add(61 * time.Second)
	rep.Actions = append(rep.Actions,
		incident.ActionResult{Action: "vm-terminated", Result: incident.ResultPending, Detail: "VM is STOPPING", Target: "projects/coopguard-local/zones/europe-west1-b/instances/claude-sandbox-with-a-long-name", Start: at, End: at.Add(20 * time.Millisecond), Seconds: 0.02},
		incident.ActionResult{Action: "snapshot-disk", Result: incident.ResultPending, Detail: "waiting for vm-terminated", Changed: []string{"projects/coopguard-local/global/snapshots/coopguard-" + strings.Repeat("x", 80)}},
		incident.ActionResult{Action: "collect-logs", Result: incident.ResultPending, Detail: "waiting for vm-terminated"},
	)
	return rep
}

// TestFollowUpState: the follow-up's state reads the same in every
// renderer: none, running with what each pending step waits for, done.
func TestFollowUpState(t *testing.T) {
	done := following()
	done.FollowUp, done.Outcome = incident.FollowUpDone, incident.OutcomeComplete
	for i := range done.Actions {
		done.Actions[i].Result = incident.ResultDone
	}
	tests := []struct {
		name string
		rep  *incident.Report
		want string
	}{
		{"no follow-up", sample(), ""},
		{"running", following(), "running, still pending: vm-terminated (VM is STOPPING), snapshot-disk (waiting for vm-terminated), collect-logs (waiting for vm-terminated)"},
		{"done", done, "done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FollowUp(tt.rep); got != tt.want {
				t.Errorf("FollowUp = %q, want %q", got, tt.want)
			}
			var b bytes.Buffer
			if err := Markdown(&b, tt.rep); err != nil {
				t.Fatal(err)
			}
			if has := strings.Contains(b.String(), "- **Follow-up:** "+md(tt.want)+"\n"); has != (tt.want != "") {
				t.Errorf("the Markdown's follow-up row (want %q):\n%s", tt.want, b.String())
			}
		})
	}
}

// TestMarkdownFollowUpRunning: pending steps read as pending (no
// duration, a light bar to the axis's end), the title says the follow-up
// runs, and the next steps say how to follow it.
func TestMarkdownFollowUpRunning(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, following()); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	for _, want := range []string{
		"# coopguard incident log-canary-1: contained, follow-up running\n",
		"| vm-terminated | pending | – |",
		"| collect-logs | pending | – |  | waiting for vm-terminated |",
		"░ is a step still pending.",
		"coopguard incidents show log-canary-1 --wait",
		"once snapshot-disk is done",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the document lacks %q:\n%s", want, doc)
		}
	}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "collect-logs") && (!strings.HasSuffix(strings.Split(line, "|")[1], "░") || strings.Contains(line, "█")) {
			t.Errorf("the pending collect-logs is not drawn light up to the axis's end: %q", line)
		}
	}
}

// TestTimelinePending: a pending step's bar runs to the end of an axis
// past the last time known; one not looked at yet starts where the
// containment held.
func TestTimelinePending(t *testing.T) {
	bars, span := Timeline(following())
	if span <= 61.02 {
		t.Errorf("axis ends at %.3f s, not past the last look (61.020 s)", span)
	}
	for _, b := range bars {
		switch {
		case b.Action == "vm-terminated" && (b.Start != 61 || b.End != span):
			t.Errorf("vm-terminated bar %.3f–%.3f, want 61.000 to the axis's end %.3f", b.Start, b.End, span)
		case b.Action == "collect-logs" && (b.Start != 0.9 || b.End != span || !b.Pending()):
			t.Errorf("collect-logs bar %+v, want pending from 0.900 (containment held) to %.3f", b, span)
		case b.Action == "stop-vm" && b.Pending():
			t.Errorf("stop-vm is done, drawn pending")
		}
	}
}

// TestNextSteps: what the report tells the operator to do follows the
// outcome and the follow-up.
func TestNextSteps(t *testing.T) {
	rep := func(outcome, followUp string) *incident.Report {
		return &incident.Report{Incident: incident.Incident{ID: "i"}, Outcome: outcome, FollowUp: followUp}
	}
	tests := []struct {
		rep        *incident.Report
		want, none string
	}{
		{rep(incident.OutcomeContained, incident.FollowUpRunning), "coopguard incidents show i --wait", "redelivery"},
		{rep(incident.OutcomeContained, ""), "coopguard resolve i --restore", "--wait"},
		{rep(incident.OutcomeComplete, incident.FollowUpDone), "coopguard resolve i --restore", "--wait"},
		{rep(incident.OutcomeIncomplete, incident.FollowUpDone), "Containment held; the follow-up could not finish", "redelivery"},
		{rep(incident.OutcomeIncomplete, ""), "redelivery", "Containment held"},
		{rep(incident.OutcomeNotified, incident.FollowUpRunning), "coopguard incidents show i --wait", "resolve"},
	}
	for _, tt := range tests {
		got := strings.Join(NextSteps(tt.rep), "\n")
		if !strings.Contains(got, tt.want) || strings.Contains(got, tt.none) {
			t.Errorf("%s, follow-up %q: next steps\n%s\nwant %q and not %q", tt.rep.Outcome, tt.rep.FollowUp, got, tt.want, tt.none)
		}
	}
}

// TestHTMLFollowUp: the page says the follow-up runs and what it waits
// for, draws pending steps as pending, and shows a complete incident as
// complete.
func TestHTMLFollowUp(t *testing.T) {
	complete := following()
	complete.Outcome, complete.FollowUp = incident.OutcomeComplete, incident.FollowUpDone
	complete.Actions = complete.Actions[:4]
	tests := []struct {
		name       string
		rep        *incident.Report
		want, none []string
	}{
		{"running", following(), []string{
			`<span class="followup" id="followup-running">follow-up running</span>`,
			`<dd id="followup">running, still pending: vm-terminated (VM is STOPPING), snapshot-disk (waiting for vm-terminated)`,
			`<rect class="bar pending"`,
			`<tr class="pending"><td class="action"><code>vm-terminated</code></td><td class="result">pending</td><td class="seconds">–</td>`,
			`<tr class="failed"><td class="action"><code>stop-agents</code></td><td class="result">failed</td>`,
		}, nil},
		{"complete", complete, []string{`<span class="outcome complete" id="outcome">complete</span>`, `<dd id="followup">done</dd>`, ".outcome.contained,.outcome.complete{"},
			[]string{"followup-running", "bar pending", `class="pending"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, tt.rep); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("the page lacks %s", w)
				}
			}
			for _, w := range tt.none {
				if strings.Contains(b.String(), w) {
					t.Errorf("the page has %s", w)
				}
			}
		})
	}
}

// TestAppendedEventsShown: the later events appended to an incident are
// one line in both formats, outside text escaped.
func TestAppendedEventsShown(t *testing.T) {
	rep := sample()
	t0 := rep.ReceivedAt
	rep.Appended = &incident.Appended{}
	for range 3 {
		rep.Appended.Add(t0.Add(time.Minute), "SetIamPolicy", "sandbox-sa-privileged-call")
	}
	rep.Appended.Add(t0.Add(2*time.Minute), evil, "sandbox-sa-privileged-call")
	var md, page bytes.Buffer
	if err := Markdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, rep); err != nil {
		t.Fatal(err)
	}
	want := "4 later events appended (first 2026-12-02T07:01:00Z, last 2026-12-02T07:02:00Z); methods: SetIamPolicy (3), "
	if !strings.Contains(md.String(), "- **Later events:** "+want) {
		t.Errorf("Markdown lacks the appended events' line %q:\n%s", want, md.String())
	}
	if !strings.Contains(page.String(), `<dd id="appended">`+want) {
		t.Errorf("the page lacks the appended events' line %q", want)
	}
	for _, out := range []string{md.String(), page.String()} {
		if strings.Contains(out, "<script>") || strings.Contains(out, "\x1b") {
			t.Error("a method name reached the report unescaped")
		}
	}
}

// TestResumeAndCauseShown: the cause an operator recorded (resolve
// --note), who resumed and when, and a forced resume's reason are in both
// formats, escaped like any outside text; a report without them has none
// of their lines.
func TestResumeAndCauseShown(t *testing.T) {
	rep := sample()
	rep.Outcome, rep.ResolvedBy, rep.ResolvedAt = incident.OutcomeResolved, "local:operator", rep.FinishedAt
	rep.Explanation = "fork bomb in a fixture " + evil
	rep.ResumedBy, rep.ResumedAt = "local:operator", rep.FinishedAt.Add(time.Hour)
	rep.ResumeForced = "confirmed by hand " + evil
	var md, page bytes.Buffer
	if err := Markdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- **Cause:** fork bomb in a fixture ", "- **Resumed:** by local:operator at 2026-12-02T08:00:00.9Z",
		"- **Resumed with the cause unexplained, because:** confirmed by hand "} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	for _, want := range []string{`<dd id="explanation">fork bomb in a fixture `, `<dd id="resumed">by local:operator at 2026-12-02T08:00:00.9Z</dd>`,
		`<dd id="resume-forced">confirmed by hand `} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for name, out := range map[string]string{"Markdown": md.String(), "HTML": page.String()} {
		if strings.Contains(out, "<script>") || strings.Contains(out, "\x1b") || (name == "Markdown" && strings.Contains(out, "[click](")) {
			t.Errorf("%s: the cause or the reason reached the report unescaped", name)
		}
	}

	var plain bytes.Buffer
	if err := Markdown(&plain, sample()); err != nil {
		t.Fatal(err)
	}
	for _, none := range []string{"Cause:", "Resumed"} {
		if strings.Contains(plain.String(), none) {
			t.Errorf("a report never resumed says %q", none)
		}
	}
}
