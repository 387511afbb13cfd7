package main

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// escape makes text from outside safe for a terminal: control characters
// (C0 including ESC, DEL, C1) and the bidirectional overrides that reorder
// what is shown are written as Go escapes (\x1b, \u202e); all else is kept.
func escape(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unsafeRune(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// escapeText is escape for text of several lines: the newlines between
// them stay, everything else is escaped.
func escapeText(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = escape(lines[i])
	}
	return strings.Join(lines, "\n")
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == unicode.ReplacementChar
}

func escapeAll(ss []string) []string {
	out := slices.Clone(ss)
	for i := range out {
		out[i] = escape(out[i])
	}
	return out
}

// printable is rep with every text field escaped (see escape): incidents
// carry text from events, logs and the VM.
func printable(rep incident.Report) incident.Report {
	inc := &rep.Incident
	for _, f := range []*string{&inc.ID, &inc.Source, &inc.Trigger, &inc.Playbook, &inc.Severity, &inc.Project, &inc.Zone,
		&inc.InstanceID, &inc.Summary, &inc.URL, &inc.EventID, &rep.Instance, &rep.Outcome, &rep.Reason, &rep.ResolvedBy,
		&rep.Explanation, &rep.ResumedBy, &rep.ResumeForced} {
		*f = escape(*f)
	}
	rep.Actions = slices.Clone(rep.Actions)
	for i := range rep.Actions {
		a := &rep.Actions[i]
		for _, f := range []*string{&a.Action, &a.Target, &a.Result, &a.Reason, &a.Detail} {
			*f = escape(*f)
		}
		a.Changed, a.Retries = escapeAll(a.Changed), escapeAll(a.Retries)
	}
	// The evidence is escaped where it is printed (printEvidence).
	return rep
}
