package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rep, err := fetch(ctx, &t, "/Posture", functions.CheckPosture)
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

func printPosture(w io.Writer, rep *posture.Report) {
	fmt.Fprintf(w, "project %s  sandbox %s  zone %s\n\n", escape(rep.Project), escape(rep.Sandbox), escape(rep.Zone))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tEVIDENCE\tFIX")
	counts := map[posture.Status]int{}
	for _, r := range rep.Results {
		counts[r.Status]++
		fix := r.Fix
		if r.Status == posture.Pass || fix == "" {
			fix = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", escape(r.Check), escape(strings.ToUpper(string(r.Status))), oneLine(r.Evidence), oneLine(fix))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d passed, %d failed, %d could not run (%.1fs)\n", counts[posture.Pass], counts[posture.Fail], counts[posture.Error], rep.Seconds)
}

// oneLine keeps a table cell on one line: evidence quoting an API error
// may carry newlines, and tabs would break the columns. What is left of
// the control characters is escaped: evidence quotes what GCP returned.
func oneLine(s string) string {
	return escape(strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s))
}
