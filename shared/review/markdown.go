package review

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Markdown writes the review as markdown. Every value from GCP or the
// incident store is escaped (md), so a method name or a principal cannot
// add markup.
func Markdown(w io.Writer, r *Review) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Weekly review of %s\n\n%s → %s\n", md(r.Project), stamp(r.From), stamp(r.To))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n> %s\n", md(n))
	}
	for _, s := range r.Sandboxes {
		fmt.Fprintf(&b, "\n## Sandbox %s\n\nAccount: `%s`\n", md(s.Name), code(s.Account))
		if s.FirstReview {
			b.WriteString("\n> First review of this sandbox: nothing is marked new; the next review compares with this one.\n")
		}
		b.WriteString("\n### " + SectionCalls + "\n\n")
		if len(s.Methods) == 0 {
			b.WriteString("No audited call by the sandbox's account.\n")
		} else {
			b.WriteString("| Method | Allowed | Denied | |\n|---|---:|---:|---|\n")
			for _, m := range s.Methods {
				fmt.Fprintf(&b, "| `%s` | %d | %d | %s |\n", code(m.Name), m.Allowed, m.Denied, newMark(m.New))
			}
		}
		if s.CallsTruncated {
			b.WriteString("\n> The read bound was reached: the counts are a floor.\n")
		}
		b.WriteString("\n### " + SectionSecrets + "\n\n")
		if len(s.SecretReads) == 0 {
			b.WriteString("No read of the sandbox's secrets.\n")
		} else {
			b.WriteString("| Principal | Reads | Denied | Secrets |\n|---|---:|---:|---|\n")
			for _, rd := range s.SecretReads {
				who := "`" + code(rd.Principal) + "`"
				if rd.Own {
					who += " (the sandbox)"
				}
				fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", who, rd.Reads, rd.Denied, md(strings.Join(rd.Secrets, ", ")))
			}
		}
		b.WriteString("\n### " + SectionNAT + "\n\n")
		if s.NATNote != "" {
			fmt.Fprintf(&b, "> %s\n\n", md(s.NATNote))
		}
		if len(s.Destinations) == 0 {
			b.WriteString("No connection recorded.\n")
		} else {
			b.WriteString("| Destination | Connections | |\n|---|---:|---|\n")
			for _, d := range s.Destinations {
				fmt.Fprintf(&b, "| `%s` | %d | %s |\n", code(d.Name), d.Count, newMark(d.New))
			}
		}
		b.WriteString("\n### " + SectionIncidents + "\n\n")
		if len(s.Incidents) == 0 {
			b.WriteString("No incident.\n")
		} else {
			b.WriteString("| Incident | Playbook | Trigger | Opened | Outcome | Ended |\n|---|---|---|---|---|---|\n")
			for _, i := range s.Incidents {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", code(i.ID), md(i.Playbook), md(i.Trigger), stamp(i.ReceivedAt), md(i.Outcome), md(i.Ended))
			}
		}
		b.WriteString("\n### " + SectionKeys + "\n\n")
		if len(s.Keys) == 0 {
			b.WriteString("No managed secret version.\n")
		} else {
			b.WriteString("| Secret | Version | State | Created | Age | |\n|---|---|---|---|---|---|\n")
			for _, k := range s.Keys {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", md(k.Secret), md(k.Version), md(k.State), stamp(k.CreatedAt), md(k.Age), md(k.Due))
			}
		}
	}
	b.WriteString("\n## " + SectionDrift + "\n\n")
	if len(r.Drift) == 0 {
		b.WriteString("Every posture check passes.\n")
	} else {
		b.WriteString("| Check | Status | Evidence | Fix |\n|---|---|---|---|\n")
		for _, d := range r.Drift {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", md(d.Check), md(d.Status), md(d.Evidence), md(d.Fix))
		}
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

// md escapes text for a markdown table cell or line: markup characters
// are backslashed, line breaks and control characters dropped.
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		case strings.ContainsRune("\\`*_[]<>|~", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// code makes text safe inside a code span: no backtick, pipe or line break.
func code(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '`' || r == '|' || r < 0x20 || r == 0x7f:
			return '?'
		}
		return r
	}, s)
}
