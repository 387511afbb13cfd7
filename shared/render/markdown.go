package render

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// Markdown section headings, in order.
const (
	SectionSummary  = "Summary"
	SectionTimeline = "Timeline"
	SectionActions  = "Actions and changes"
	SectionEvidence = "Evidence"
	SectionNext     = "Next steps"
)

// Sections are the headings every Markdown report has, in order.
var Sections = []string{SectionSummary, SectionTimeline, SectionActions, SectionEvidence, SectionNext}

// barWidth is the width of a timeline bar at the full span, in characters.
const barWidth = 30

// Markdown writes rep as a Markdown document (CommonMark with GitHub
// tables), for a chat or a ticket.
func Markdown(w io.Writer, rep *incident.Report) error {
	b := bufio.NewWriter(w)
	inc := rep.Incident
	title := md(rep.Outcome)
	if rep.FollowUp == incident.FollowUpRunning {
		title += ", follow-up running"
	}
	fmt.Fprintf(b, "# coopguard incident %s: %s\n\n", md(inc.ID), title)

	fmt.Fprintf(b, "## %s\n\n", SectionSummary)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "- **%s:** %s\n", k, v)
		}
	}
	row("Outcome", md(rep.Outcome))
	row("Playbook", md(inc.Playbook)+" (from "+md(inc.Source)+")")
	row("Trigger", md(inc.Trigger))
	row("Severity", md(inc.Severity))
	row("Summary", md(inc.Summary))
	row("Project", md(inc.Project))
	row("Instance", md(rep.Instance))
	row("Reason", md(rep.Reason))
	row("Started", stamp(inc.StartedAt))
	row("Received", stamp(rep.ReceivedAt))
	row("Finished", stamp(rep.FinishedAt))
	row("Time to containment", fmt.Sprintf("%.3f s (critical path %.3f s)", rep.ContainmentSeconds, rep.CriticalPathSeconds))
	row("Follow-up", md(FollowUp(rep)))
	row("Later events", md(rep.Appended.String()))
	if rep.ResolvedBy != "" {
		row("Resolved", "by "+md(rep.ResolvedBy)+" at "+stamp(rep.ResolvedAt))
	}
	row("Cause", md(rep.Explanation))
	if rep.ResumedBy != "" {
		row("Resumed", "by "+md(rep.ResumedBy)+" at "+stamp(rep.ResumedAt))
	}
	row("Resumed with the cause unexplained, because", md(rep.ResumeForced))
	b.WriteString("\n")

	fmt.Fprintf(b, "## %s\n\n", SectionTimeline)
	bars, total := Timeline(rep)
	if len(bars) == 0 {
		b.WriteString("No action was taken.\n\n")
	} else {
		legend := ""
		if len(Pending(rep)) > 0 {
			legend = " ░ is a step still pending."
		}
		fmt.Fprintf(b, "Seconds after the event was received (axis 0 to %.3f s). Evidence: %s.%s\n\n```\n", total, md(Counts(rep.Evidence)), legend)
		width := 0
		for _, br := range bars {
			width = max(width, len(br.Action))
		}
		for _, br := range bars {
			from := int(br.Start / total * barWidth)
			to := max(from+1, int(br.End/total*barWidth+0.5))
			// A step still pending is drawn light: it has not ended.
			fill := "█"
			if br.Pending() {
				fill = "░"
			}
			line := strings.Repeat(" ", from) + strings.Repeat(fill, to-from) + strings.Repeat(" ", max(0, barWidth-to))
			fmt.Fprintf(b, "%-*s |%s| %7.3f–%.3f s  %s\n", width, code(br.Action), line, br.Start, br.End, code(br.Aside))
		}
		b.WriteString("```\n\n")
	}

	fmt.Fprintf(b, "## %s\n\n", SectionActions)
	if len(rep.Actions) == 0 {
		b.WriteString("None.\n\n")
	} else {
		var rows [][]string
		for _, a := range rep.Actions {
			detail := a.Detail
			if a.Reason != "" {
				detail = a.Reason
			}
			var changed []string
			for _, c := range a.Changed {
				changed = append(changed, md(c))
			}
			rows = append(rows, []string{md(a.Action), md(a.String()), seconds(a), md(a.Target), md(detail), strings.Join(changed, "<br>")})
		}
		Table(b, []Column{{Title: "Action"}, {Title: "Result"}, {Title: "Seconds"}, {Title: "Target"}, {Title: "Detail"}, {Title: "Changed"}}, rows)
		b.WriteString("\n")
	}

	fmt.Fprintf(b, "## %s\n\n", SectionEvidence)
	blocks := Evidence(rep.Evidence)
	if len(blocks) == 0 {
		b.WriteString("No evidence was collected (the playbook has no collect-logs, or it did not run).\n\n")
	} else {
		fmt.Fprintf(b, "Incident window %s to %s.\n\n", stamp(rep.Evidence.From), stamp(rep.Evidence.To))
	}
	for _, bl := range blocks {
		fmt.Fprintf(b, "### %s — %s\n\n%s.\n", md(bl.Title), md(bl.Source), md(bl.Summary))
		if bl.Note != "" {
			fmt.Fprintf(b, "\n> %s\n", md(bl.Note))
		}
		if len(bl.Rows) > 0 {
			b.WriteString("\n")
		}
		for _, r := range bl.Rows {
			fmt.Fprintf(b, "- %s\n", md(r))
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(b, "## %s\n\n", SectionNext)
	for _, s := range NextSteps(rep) {
		fmt.Fprintf(b, "- %s\n", md(s))
	}
	return b.Flush()
}

// seconds is how long an action took, or "–" while it is pending (its
// last look's duration says nothing of how long it will take).
func seconds(a incident.ActionResult) string {
	if a.Result == incident.ResultPending {
		return "–"
	}
	return fmt.Sprintf("%.3f", a.Seconds)
}

// stamp is a time in UTC, or "" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// md makes outside text inert in Markdown: punctuation that could start
// markup (links, images, emphasis, HTML, entities, table cells, headings,
// code) is backslash-escaped, bare links are broken up so nothing becomes
// clickable, and control and bidirectional-override characters are
// written as \uXXXX, so a line stays one line and reads as written.
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case strings.ContainsRune("\\`*_[]<>#|~&!", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return linkBreaker.Replace(b.String())
}

// linkBreaker stops GitHub's extended autolinks (scheme:// and www.).
var linkBreaker = strings.NewReplacer("://", ":\\/\\/", "www.", "www\\.", "WWW.", "WWW\\.")

// code makes text safe inside a fenced code block: only control
// characters matter there (a fence cannot be closed mid-line).
func code(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unsafeRune: control characters, and the bidirectional overrides that
// reorder what is shown.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == unicode.ReplacementChar
}
