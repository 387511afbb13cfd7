package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudcoop/coopguard/functions"
)

func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var t target
	t.flags(fs)
	var f fleetFilter
	f.flags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rep, err := fetch(ctx, &t, "/Status", functions.CollectStatus)
	if err != nil {
		return err
	}
	rep = f.status(rep)
	if *asJSON {
		return printJSON(stdout, rep)
	}
	printStatus(stdout, rep)
	return nil
}

func printStatus(w io.Writer, rep *functions.StatusReport) {
	// Everything here came from the server or from GCP: the VM writes its
	// own agents flag, and incidents carry text from events and logs.
	printFleetSummary(w, rep)
	if len(rep.Sandboxes) > fleetDetail {
		// A fleet: one line per sandbox, the incidents one line each.
		fmt.Fprintln(w)
		printFleet(w, rep.Sandboxes)
		printDeaf(w, rep)
		if len(rep.Incidents) > 0 {
			fmt.Fprintln(w)
			printFleetIncidents(w, rep.Incidents, rep.Project)
		}
		return
	}
	fmt.Fprintf(w, "project %s\n\n", escape(rep.Project))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tID\tZONE\tSTATUS\tEXTERNAL IP\tTAGS\tAGENTS\tSERVICE ACCOUNT")
	for _, in := range rep.Instances {
		ip := "none"
		if in.ExternalIP {
			ip = "YES (exposed)"
		}
		zone := in.Zone
		if in.Project != "" && in.Project != rep.Project {
			zone = in.Project + "/" + zone // a sandbox in a project of its own
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", escape(in.Name), escape(in.ID), escape(zone), escape(in.Status), ip,
			orDash(escape(strings.Join(in.NetworkTags, ","))), orDash(escape(in.AgentsFlag)), orDash(escape(in.ServiceAccount)))
	}
	if len(rep.Instances) == 0 {
		fmt.Fprintln(tw, "(none: run coopguard provision)")
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SECRET\tVERSION\tSTATE")
	for _, s := range rep.Secrets {
		if s.Missing || len(s.Versions) == 0 {
			fmt.Fprintf(tw, "%s\t-\t%s\n", escape(s.Name), map[bool]string{true: "MISSING", false: "NO VERSIONS"}[s.Missing])
		}
		for _, v := range s.Versions {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", escape(s.Name), escape(v.Name[strings.LastIndex(v.Name, "/")+1:]), escape(v.State))
		}
	}
	tw.Flush()
	printDeaf(w, rep)
	fmt.Fprintf(w, "\n%d incident(s)\n", len(rep.Incidents))
	if len(rep.Incidents) == 0 {
		return
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tOUTCOME\tPLAYBOOK\tTRIGGER\tINSTANCE\tRECEIVED\tCONTAINED IN")
	for _, r := range rep.Incidents {
		r = printable(r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.2fs\n", r.Incident.ID, r.Outcome, r.Incident.Playbook, r.Incident.Trigger,
			r.Instance, r.ReceivedAt.Format(time.RFC3339), r.ContainmentSeconds)
	}
	tw.Flush()
}

// printDeaf says what keeps events from reaching coopguard, with fixes.
func printDeaf(w io.Writer, rep *functions.StatusReport) {
	if len(rep.Deaf) > 0 {
		fmt.Fprintln(w, "\nCOOPGUARD IS DEAF: events about the sandbox do not reach it")
		for _, f := range rep.Deaf {
			fmt.Fprintf(w, "  %s\n    fix: %s\n", escape(f.What), escape(f.Fix))
		}
	}
}

// orDash shows an empty table cell as "-" rather than nothing.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
