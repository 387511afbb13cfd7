package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/shared/incident"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, ünïcödé ✓", "plain text, ünïcödé ✓"},
		{"clear\x1b[2Jscreen", `clear\x1b[2Jscreen`},
		{"title\x1b]0;pwned\x07", `title\x1b]0;pwned\x07`},
		{"line\nbreak\rreturn\ttab", `line\x0abreak\x0dreturn\x09tab`},
		{"del\x7f c1\u009b", `del\x7f c1\x9b`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"bad utf8 \xff", `bad utf8 \ufffd`},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPrintedIncidentsCarryNoControlCharacters: every field that came from
// outside is escaped in the list and the timeline.
func TestPrintedIncidentsCarryNoControlCharacters(t *testing.T) {
	evil := "x\x1b[31m\x1b]52;c;ZXZpbA==\x07\u202e"
	rep := incident.Report{
		Incident: incident.Incident{ID: "alert-" + evil, Trigger: evil, Summary: evil, Source: "log", Playbook: "contain"},
		Instance: evil, Outcome: incident.OutcomeContained, Reason: evil, ResolvedBy: evil,
		Actions:    []incident.ActionResult{{Action: "collect-logs", Result: "done", Detail: evil, Reason: evil, Changed: []string{evil}}},
		LogExcerpt: &incident.LogExcerpt{First: []string{evil}},
	}
	var out bytes.Buffer
	printIncidentList(&out, []incident.Report{rep})
	printIncident(&out, &rep)
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(out.String(), bad) {
			t.Fatalf("printed output contains %q:\n%s", bad, out.String())
		}
	}
	if !strings.Contains(out.String(), `x\x1b[31m`) {
		t.Errorf("the escaped text is not shown:\n%s", out.String())
	}
}
