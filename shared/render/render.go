// Package render turns an incident report into something to forward: a
// Markdown document for a chat or a ticket, and a self-contained HTML
// page with the incident's timeline drawn. One renderer per format; both
// read the same view (this file), so they say the same things. Reports
// carry text from events, logs and the VM: every renderer escapes it for
// its format.
package render

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// Bar is one action on the timeline: offsets from the report's receipt.
type Bar struct {
	// Result is as reports spell it ("failed: reason"), Status the bare
	// result (incident.ResultFailed).
	Action, Result, Status, Detail string
	// Start and End are seconds after the event was received. A pending
	// step's bar runs to the end of the axis: it is still under way.
	Start, End float64
	// Aside is what is shown beside the bar: the result, and for the
	// action that collected the evidence, its counts.
	Aside string
}

// Pending reports whether the bar is a follow-up step still under way.
func (b Bar) Pending() bool { return b.Status == incident.ResultPending }

// Timeline returns the report's actions as bars, and the axis length in
// seconds (at least a millisecond, so a scale is never zero).
func Timeline(rep *incident.Report) (bars []Bar, span float64) {
	span = 0.001
	for _, a := range rep.Actions {
		b := Bar{Action: a.Action, Result: a.String(), Status: a.Result, Detail: cmp.Or(a.Reason, a.Detail)}
		if !a.Start.IsZero() {
			b.Start = max(0, a.Start.Sub(rep.ReceivedAt).Seconds())
			b.End = max(b.Start, a.End.Sub(rep.ReceivedAt).Seconds())
		}
		b.Aside = a.Result
		if a.Action == "collect-logs" && rep.Evidence != nil {
			b.Aside += ": " + Counts(rep.Evidence)
		}
		span = max(span, b.End)
		bars = append(bars, b)
	}
	// A pending step has not ended: its bar runs past the last time known,
	// to the end of an axis a little longer than that. One not looked at
	// yet has no time of its own: it starts where the containment held.
	if len(Pending(rep)) > 0 {
		known := span
		span *= 1.15
		for i := range bars {
			if !bars[i].Pending() {
				continue
			}
			if rep.Actions[i].Start.IsZero() {
				bars[i].Start = min(rep.ContainmentSeconds, known)
			}
			bars[i].End = span
		}
	}
	return bars, span
}

// FollowUp says where the report's follow-up stands (what runs after the
// containment held: the VM stopped, the snapshot, the evidence): "" when
// the playbook has none, "done", or "running" with the steps still
// pending and what each waits for.
func FollowUp(rep *incident.Report) string {
	switch rep.FollowUp {
	case "":
		return ""
	case incident.FollowUpRunning:
		var waits []string
		for _, a := range Pending(rep) {
			if a.Detail != "" {
				waits = append(waits, a.Action+" ("+a.Detail+")")
			} else {
				waits = append(waits, a.Action)
			}
		}
		if len(waits) == 0 {
			return "running"
		}
		return "running, still pending: " + strings.Join(waits, ", ")
	}
	return rep.FollowUp
}

// Pending returns the report's steps still under way, in report order.
func Pending(rep *incident.Report) []incident.ActionResult {
	var out []incident.ActionResult
	for _, a := range rep.Actions {
		if a.Result == incident.ResultPending {
			out = append(out, a)
		}
	}
	return out
}

// Block is one source of evidence, ready to show.
type Block struct {
	// Source is incident.FromOutside or incident.FromVM.
	Source string
	// Title says what the source is; Summary its counts and times.
	Title, Summary string
	// Rows are its top names with their counts; Note says why it may be
	// empty.
	Rows []string
	Note string
}

// Untrusted reports whether the block comes from inside the VM.
func (b Block) Untrusted() bool { return b.Source == incident.FromVM }

// Evidence returns the blocks of the report's evidence, the sources
// outside the VM first; nil when nothing was collected.
func Evidence(ev *incident.Evidence) []Block {
	if ev == nil {
		return nil
	}
	var out []Block
	if a := ev.Audit; a != nil {
		b := Block{Source: incident.FromOutside, Title: "Cloud Audit Logs: calls by the sandbox's account " + a.Principal,
			Summary: fmt.Sprintf("%s (%d allowed, %d denied or failed)%s", plural(a.Entries, "audited call"), a.Allowed, a.Denied, span(a.First, a.Last, a.Truncated))}
		for _, m := range a.Methods {
			r := fmt.Sprintf("%s ×%d", m.Name, m.Count)
			if m.Denied > 0 {
				r += fmt.Sprintf(" (%d denied)", m.Denied)
			}
			b.Rows = append(b.Rows, r)
		}
		out = append(out, b)
	}
	if n := ev.NAT; n != nil {
		b := Block{Source: incident.FromOutside, Title: "Cloud NAT: where the VM connected to", Note: n.Note,
			Summary: fmt.Sprintf("%s (%d translated, %d dropped)%s", plural(n.Entries, "connection"), n.Translated, n.Dropped, span(n.First, n.Last, n.Truncated))}
		for _, d := range n.Destinations {
			b.Rows = append(b.Rows, fmt.Sprintf("%s ×%d", d.Name, d.Count))
		}
		out = append(out, b)
	}
	if v := ev.VM; v != nil {
		b := Block{Source: incident.FromVM, Title: "the VM's own log entries",
			Summary: plural(v.Entries, "entry")}
		if v.Truncated {
			b.Summary += ", more than were read"
		}
		if len(v.BySeverity) > 0 {
			var sev []string
			for _, s := range []string{"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG", "DEFAULT"} {
				if k := v.BySeverity[s]; k > 0 {
					sev = append(sev, fmt.Sprintf("%d %s", k, s))
				}
			}
			b.Summary += " (" + strings.Join(sev, ", ") + ")"
		}
		b.Rows = append(b.Rows, v.First...)
		out = append(out, b)
	}
	return out
}

// Counts is the one-line evidence count shown beside the timeline.
func Counts(ev *incident.Evidence) string {
	if ev == nil {
		return "no evidence collected"
	}
	var parts []string
	if ev.Audit != nil {
		parts = append(parts, plural(ev.Audit.Entries, "audited call"))
	}
	if ev.NAT != nil {
		parts = append(parts, plural(ev.NAT.Entries, "NAT connection"))
	}
	if ev.VM != nil {
		parts = append(parts, plural(ev.VM.Entries, "VM entry")+" (untrusted)")
	}
	return strings.Join(parts, ", ")
}

// plural is "1 entry", "2 entries", "0 calls".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// span is ", first … last" of a source's entries.
func span(first, last time.Time, truncated bool) string {
	s := ""
	if !first.IsZero() {
		s = ", " + first.UTC().Format(time.RFC3339) + " to " + last.UTC().Format(time.RFC3339)
	}
	if truncated {
		s += ", more than were read"
	}
	return s
}

// NextSteps says what the operator should do now, by outcome and by
// where the follow-up stands.
func NextSteps(rep *incident.Report) []string {
	id := rep.Incident.ID
	running := rep.FollowUp == incident.FollowUpRunning
	switch rep.Outcome {
	case incident.OutcomeContained, incident.OutcomeComplete:
		var steps []string
		if running {
			steps = append(steps, "Containment holds; the follow-up (VM stopped, disk snapshot, evidence) is still running: coopguard incidents show "+id+" --wait follows it to its end.")
		}
		steps = append(steps,
			"Read the evidence above: what the sandbox's account called and where the VM connected to come from Google Cloud; the VM's own entries may be forged.",
			"Revoke the API key at its provider and issue a new one: disabling the secret's versions stops new reads, not a copy already taken.")
		if running {
			steps = append(steps, "Inspect the boot disk snapshot, once snapshot-disk is done, before restarting anything.")
		} else {
			steps = append(steps, "Inspect the boot disk snapshot before restarting anything.")
		}
		return append(steps, "If this was a false positive: coopguard resolve "+id+" --restore")
	case incident.OutcomeIncomplete:
		if rep.FollowUp == incident.FollowUpDone {
			// Only a contained incident has a follow-up: it held, and
			// what the follow-up could not do is never retried.
			return []string{
				"Containment held; the follow-up could not finish (see Reason and Actions), and nothing retries it: take the snapshot or read the logs by hand if they are missing.",
				"If this was a false positive: coopguard resolve " + id + " --restore",
			}
		}
		return []string{
			"Some action failed (see Actions): coopguard retries on the event's redelivery; check again with coopguard incidents show " + id + ".",
			"If it keeps failing, contain by hand: stop the VM and disable the key's secret versions.",
		}
	case incident.OutcomeRefused:
		return []string{"Nothing was done: " + rep.Reason + ". Check that the VM carries the coopguard-sandbox label in the configured project."}
	case incident.OutcomeNotified:
		steps := []string{"Nothing was changed (notify playbook): decide whether to contain; coopguard drill --playbook contain shows what containment does."}
		if running {
			steps = append(steps, "The evidence is still being collected: coopguard incidents show "+id+" --wait follows it.")
		}
		return steps
	case incident.OutcomeDryRun:
		return []string{"Dry run: nothing was changed. Run without --dry-run to contain."}
	case incident.OutcomeResolved:
		return []string{"Resolved by " + rep.ResolvedBy + ": nothing left to do."}
	}
	return []string{"Review the report: coopguard incidents show " + id}
}
