package review

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cloudcoop/coopguard/shared/render"
)

// Markdown writes the review as markdown. Every value from GCP or the
// incident store is made inert (render.Text, render.Code), so a method
// name or a principal cannot add markup, a link or a line; the tables are
// the incident report's (render.Table).
func Markdown(w io.Writer, r *Review) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Weekly review of %s\n\n%s → %s\n", md(r.Project), stamp(r.From), stamp(r.To))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n> %s\n", md(n))
	}
	// section writes a section's heading, its note if any, and its
	// table, or what to say when it has no row.
	section := func(title, note, none string, cols []render.Column, rows [][]string) {
		b.WriteString("\n### " + title + "\n\n")
		if note != "" {
			fmt.Fprintf(&b, "> %s\n\n", md(note))
		}
		if len(rows) == 0 {
			b.WriteString(none + "\n")
			return
		}
		render.Table(&b, cols, rows)
	}
	for _, s := range r.Sandboxes {
		fmt.Fprintf(&b, "\n## Sandbox %s\n\nAccount: %s\n", md(s.Name), code(s.Account))
		if s.FirstReview {
			b.WriteString("\n> First review of this sandbox: nothing is marked new; the next review compares with this one.\n")
		}
		var rows [][]string
		for _, m := range s.Methods {
			rows = append(rows, []string{code(m.Name), strconv.Itoa(m.Allowed), strconv.Itoa(m.Denied), newMark(m.New)})
		}
		section(SectionCalls, "", "No audited call by the sandbox's account.", []render.Column{{Title: "Method"}, {Title: "Allowed", Right: true}, {Title: "Denied", Right: true}, {}}, rows)
		if s.CallsTruncated {
			b.WriteString("\n> The read bound was reached: the counts are a floor.\n")
		}
		rows = nil
		for _, rd := range s.SecretReads {
			who := code(rd.Principal)
			if rd.Own {
				who += " (the sandbox)"
			}
			rows = append(rows, []string{who, strconv.Itoa(rd.Reads), strconv.Itoa(rd.Denied), md(strings.Join(rd.Secrets, ", "))})
		}
		section(SectionSecrets, "", "No read of the sandbox's secrets.", []render.Column{{Title: "Principal"}, {Title: "Reads", Right: true}, {Title: "Denied", Right: true}, {Title: "Secrets"}}, rows)
		rows = nil
		for _, d := range s.Destinations {
			rows = append(rows, []string{code(d.Name), strconv.Itoa(d.Count), newMark(d.New)})
		}
		section(SectionNAT, s.NATNote, "No connection recorded.", []render.Column{{Title: "Destination"}, {Title: "Connections", Right: true}, {}}, rows)
		rows = nil
		for _, i := range s.Incidents {
			rows = append(rows, []string{code(i.ID), md(i.Playbook), md(i.Trigger), stamp(i.ReceivedAt), md(i.Outcome), md(i.Ended)})
		}
		section(SectionIncidents, "", "No incident.", []render.Column{{Title: "Incident"}, {Title: "Playbook"}, {Title: "Trigger"}, {Title: "Opened"}, {Title: "Outcome"}, {Title: "Ended"}}, rows)
		rows = nil
		for _, k := range s.Keys {
			rows = append(rows, []string{md(k.Secret), md(k.Version), md(k.State), stamp(k.CreatedAt), md(k.Age), md(k.Due)})
		}
		section(SectionKeys, "", "No managed secret version.", []render.Column{{Title: "Secret"}, {Title: "Version"}, {Title: "State"}, {Title: "Created"}, {Title: "Age"}, {}}, rows)
	}
	var rows [][]string
	for _, d := range r.Drift {
		rows = append(rows, []string{md(d.Check), md(d.Status), md(d.Evidence), md(d.Fix)})
	}
	b.WriteString("\n## " + SectionDrift + "\n\n")
	if len(rows) == 0 {
		b.WriteString("Every posture check passes.\n")
	} else {
		render.Table(&b, []render.Column{{Title: "Check"}, {Title: "Status"}, {Title: "Evidence"}, {Title: "Fix"}}, rows)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// The review's section titles, shared by both renderings.
const (
	SectionCalls     = "Calls by the sandbox's account"
	SectionSecrets   = "Secret reads by principal"
	SectionNAT       = "Where the VM connected to (Cloud NAT)"
	SectionIncidents = "Incidents"
	SectionKeys      = "Key ages"
	SectionDrift     = "Posture drift"
)

// NewLabel marks what no earlier review saw.
const NewLabel = "NEW"

func newMark(isNew bool) string {
	if isNew {
		return "**" + NewLabel + "**"
	}
	return ""
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// md and code make outside text inert, as in the incident report.
func md(s string) string   { return render.Text(s) }
func code(s string) string { return render.Code(s) }
