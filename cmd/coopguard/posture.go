package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/posture"
)

// runPosture checks the project against the security checklist and prints
// one row per check; any failing (or unreadable) check makes it return an
// error, so the exit code says whether the posture holds.
func runPosture(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("posture", flag.ContinueOnError)
	var t target
	t.flags(fs)
	var f fleetFilter
	fs.StringVar(&f.project, "project", "", "the checked sandbox's project (default: coopguard's own)")
	fs.StringVar(&f.sandbox, "sandbox", "", "the checked sandbox, one the registry holds (default: the configured sandbox, vm.name)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rep, err := fetch(ctx, &t, "/Posture"+f.query(), func(ctx context.Context, e *functions.Env) (posture.Report, error) {
		return functions.PostureOf(ctx, e, f.project, f.sandbox)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printPosture(stdout, &rep)
	}
	return postureErr(&rep)
}

// postureErr is nil when every check passed; otherwise it names the checks
// that failed and those that could not run.
func postureErr(rep *posture.Report) error {
	var parts []string
	if f := rep.Failing(); len(f) > 0 {
		parts = append(parts, fmt.Sprintf("%d check(s) fail: %s", len(f), strings.Join(f, ", ")))
	}
	if e := rep.Errored(); len(e) > 0 {
		parts = append(parts, fmt.Sprintf("%d check(s) could not run: %s", len(e), strings.Join(e, ", ")))
	}
	if len(parts) == 0 {
		return nil
	}
	return errors.New("posture of project " + rep.Project + ": " + strings.Join(parts, "; ") + " (see FIX)")
}

// tableWidth is the terminal width the table fits: each check's row holds
// its name and result, and its evidence and fix are wrapped under it.
// --json keeps them whole.
const tableWidth = 100

// cellIndent sets the wrapped evidence and fix under their row.
const cellIndent = "    "

func printPosture(w io.Writer, rep *posture.Report) {
	fmt.Fprintf(w, "project %s  sandbox %s  zone %s\n\n", escape(rep.Project), escape(rep.Sandbox), escape(rep.Zone))
	nameWidth := len("CHECK")
	for _, r := range rep.Results {
		nameWidth = max(nameWidth, len(escape(r.Check)))
	}
	fmt.Fprintf(w, "%-*s  %s\n", nameWidth, "CHECK", "RESULT")
	counts := map[posture.Status]int{}
	for _, r := range rep.Results {
		counts[r.Status]++
		fmt.Fprintf(w, "%-*s  %s\n", nameWidth, escape(r.Check), escape(strings.ToUpper(string(r.Status))))
		cells := []string{oneLine(r.Evidence)}
		if r.Status != posture.Pass && r.Fix != "" {
			cells = append(cells, "fix: "+oneLine(r.Fix))
		}
		for _, c := range cells {
			for _, l := range wrap(c, tableWidth-len(cellIndent)) {
				fmt.Fprintln(w, cellIndent+l)
			}
		}
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d could not run (%.1fs)\n", counts[posture.Pass], counts[posture.Fail], counts[posture.Error], rep.Seconds)
}

// wrap breaks s into lines of at most width columns at spaces, cutting a
// word longer than a line (a long resource name) where it must. A line is
// measured in bytes, an upper bound of the columns any terminal gives it:
// "→" is one column in most terminals and two in East Asian ones, three
// bytes in all, so a line that fits in bytes fits everywhere (and in
// tools that count bytes).
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		for len(word) > width {
			if line != "" {
				lines, line = append(lines, line), ""
			}
			cut := width
			for cut > 0 && !utf8.RuneStart(word[cut]) {
				cut--
			}
			if cut == 0 { // a width narrower than one rune: one rune a line
				_, cut = utf8.DecodeRuneInString(word)
			}
			lines, word = append(lines, word[:cut]), word[cut:]
		}
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines, line = append(lines, line), word
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}

// oneLine keeps a table cell on one line: evidence quoting an API error
// may carry newlines, and tabs would break the columns. What is left of
// the control characters is escaped: evidence quotes what GCP returned.
func oneLine(s string) string {
	return escape(strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s))
}
