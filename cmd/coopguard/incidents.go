package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// runIncidents lists incidents, or shows one as a timeline.
func runIncidents(ctx context.Context, args []string, stdout io.Writer) error {
	show := len(args) > 0 && args[0] == "show"
	if show {
		args = args[1:]
	}
	fs := flag.NewFlagSet("incidents", flag.ContinueOnError)
	var t target
	t.flags(fs)
	var f fleetFilter
	f.flags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var format, output *string
	var wait *bool
	if show {
		format = fs.String("format", "text", "with show: text, json, markdown (for a chat or a ticket) or html (a self-contained page with the timeline drawn)")
		output = fs.String("output", "", "with show: write the report to this file instead of standard output")
		wait = fs.Bool("wait", false, "with show: follow the incident until its follow-up is over, showing its progress, then show the final report")
	}
	var id string
	if show {
		if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
			return fmt.Errorf("%w: coopguard incidents show ID [flags]", errUsage)
		}
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	reps, err := listIncidents(ctx, &t)
	if err != nil {
		return err
	}
	if show {
		for _, r := range reps {
			if r.Incident.ID == id {
				if *asJSON {
					*format = "json"
				}
				if *wait {
					return followIncident(ctx, &t, &r, *format, *output, stdout)
				}
				return showIncident(&r, *format, *output, stdout)
			}
		}
		return fmt.Errorf("no incident %q among the latest %d: run coopguard incidents", id, len(reps))
	}
	reps = f.incidents(reps, "")
	if *asJSON {
		return printJSON(stdout, reps)
	}
	printIncidentList(stdout, reps)
	return nil
}

// followIncident is incidents show --wait: it follows rep until its
// follow-up is over, then shows the final report. The text timeline on
// standard output shows the report first and the progress under it;
// another format, or a file, gets only the final report, with the
// progress on standard output when the report goes to a file.
func followIncident(ctx context.Context, t *target, rep *incident.Report, format, output string, stdout io.Writer) error {
	read := serverReport(t, rep.Incident.ID)
	if t.direct() {
		e, err := t.env(ctx)
		if err != nil {
			return err
		}
		defer e.Close()
		read = storeReport(e.Store, rep.Incident.ID)
	}
	text := (format == "text" || format == "") && output == ""
	if text {
		printIncident(stdout, rep)
	}
	last, err := followTo(ctx, stdout, rep, read, !text && output == "")
	if text {
		return err
	}
	// What was read last is shown even when following stopped early.
	return errors.Join(showIncident(last, format, output, stdout), err)
}

// listIncidents returns the latest report of each recent incident.
func listIncidents(ctx context.Context, t *target) ([]incident.Report, error) {
	if t.direct() {
		return fetch(ctx, t, "", func(ctx context.Context, e *functions.Env) ([]incident.Report, error) {
			return functions.ListIncidents(ctx, e, functions.StatusIncidents)
		})
	}
	st, err := serverStatus(ctx, t)
	if err != nil {
		return nil, err
	}
	return st.Incidents, nil
}

func printIncidentList(w io.Writer, reps []incident.Report) {
	if len(reps) == 0 {
		fmt.Fprintln(w, "no incidents")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tOUTCOME\tFOLLOW-UP\tPLAYBOOK\tSOURCE\tTRIGGER\tINSTANCE\tRECEIVED\tCONTAINED IN\tRESOLVED BY")
	for _, r := range reps {
		r = printable(r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2fs\t%s\n", r.Incident.ID, r.Outcome, orDash(escape(r.FollowUp)), r.Incident.Playbook, r.Incident.Source,
			r.Incident.Trigger, r.Instance, r.ReceivedAt.Format(time.RFC3339), r.ContainmentSeconds, r.ResolvedBy)
	}
	tw.Flush()
}

// runResolve closes an incident as a false positive.
func runResolve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	var t target
	t.flags(fs)
	restore := fs.Bool("restore", false, "undo the containment: re-enable the versions it disabled, clear the agent-stop flag and quarantine tag, start the VM")
	dryRun := fs.Bool("dry-run", false, "show what would be undone and change nothing")
	note := fs.String("note", "", "the incident's cause as found: recorded on it (coopguard resume asks for one); may be added to a resolved incident")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	id, err := parseIDFlags(fs, args, "coopguard resolve INCIDENT [--restore] [flags]")
	if err != nil {
		return err
	}
	req := functions.ResolveRequest{ID: id, Restore: *restore, DryRun: *dryRun, Note: *note}
	var rep *incident.Report
	var runErr error
	if t.direct() {
		e, err := t.env(ctx)
		if err != nil {
			return err
		}
		defer e.Close()
		// Direct mode acts with this user's credentials: the caller is the
		// local user.
		rep, runErr = e.Restorer.Resolve(ctx, id, respond.ResolveOptions{Restore: req.Restore, By: "local:" + whoami(), DryRun: req.DryRun, Note: req.Note})
	} else {
		resp, err := t.call(ctx, http.MethodPost, "/Resolve", req, "")
		if resp != nil {
			defer resp.Body.Close()
			var r incident.Report
			if json.NewDecoder(resp.Body).Decode(&r) == nil && r.Incident.ID != "" {
				rep = &r
			}
		}
		runErr = err
	}
	if rep == nil {
		if runErr == nil {
			runErr = errors.New("no report returned")
		}
		return runErr
	}
	if *asJSON {
		if err := printJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printIncident(stdout, rep)
	}
	return runErr
}

// whoami is the local user: the operator of `coopguard serve` and of
// direct mode.
func whoami() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if s := os.Getenv("USER"); s != "" {
		return s
	}
	return "coopguard-cli"
}
