package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
)

func runProvision(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	var t target
	t.flags(fs)
	dryRun := fs.Bool("dry-run", false, "show the plan and change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	name := fs.String("name", "", "sandbox (VM) name; default vm.name from config")
	project := fs.String("project", "", "the sandbox's project; default coopguard's own (cloud.gcp.project)")
	create := fs.Bool("create-project", false, "create --project under [coopguard.fleet] folder, with its billing account, if it does not exist")
	disruptive := fs.Bool("disruptive", false, "on an adopted VM, also make the fixes that need a stop (no external IP, Shielded VM, its own account); it is started again if it was running")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	progress := provisionProgress(stdout, *asJSON)
	var rep *provisioner.Report
	var runErr error
	if t.direct() {
		e, err := t.env(ctx)
		if err != nil {
			return err
		}
		defer e.Close()
		rep, runErr = e.Provisioner.Converge(ctx, provisioner.Options{Name: *name, Project: *project, CreateProject: *create, DryRun: *dryRun, Disruptive: *disruptive, Progress: progress})
	} else {
		var reps []*provisioner.Report
		reps, runErr = provisionRemote(ctx, &t, functions.ProvisionRequest{Name: *name, Project: *project, CreateProject: *create, DryRun: *dryRun, Disruptive: *disruptive}, progress)
		if len(reps) > 0 {
			rep = reps[0]
		}
	}
	if rep == nil {
		return runErr
	}
	if *asJSON {
		if err := printJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printProvisionReport(stdout, rep)
		printAdoption(stdout, rep)
	}
	if runErr != nil {
		return fmt.Errorf("provision incomplete: %w", runErr)
	}
	return nil
}

// provisionProgress prints each resource as it finishes, unless the
// answer is printed as JSON.
func provisionProgress(stdout io.Writer, asJSON bool) provisioner.Progress {
	return func(res provisioner.Result) {
		if !asJSON {
			fmt.Fprintf(stdout, "  %-8s %-20s %-40s %s\n", escape(res.Status), escape(res.Kind), escape(res.Name), escape(string(res.Action)))
		}
	}
}

// provisionRemote asks the server's Provision, streaming its
// per-resource progress, and returns its reports: one per sandbox (one,
// or every VM adopted with AdoptAll). The error is the server's, or the
// first report's failed resource.
func provisionRemote(ctx context.Context, t *target, req functions.ProvisionRequest, progress provisioner.Progress) ([]*provisioner.Report, error) {
	resp, err := t.call(ctx, http.MethodPost, "/Provision", req, "application/x-ndjson")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var reps []*provisioner.Report
	var failed error
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var line struct {
			Resource *provisioner.Result `json:"resource"`
			Report   *provisioner.Report `json:"report"`
			Error    string              `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return reps, fmt.Errorf("bad progress line from server: %w", err)
		}
		switch {
		case line.Error != "":
			return reps, errors.New(line.Error)
		case line.Resource != nil:
			progress(*line.Resource)
		case line.Report != nil:
			reps = append(reps, line.Report)
			if f := line.Report.Failed(); len(f) > 0 && failed == nil {
				failed = fmt.Errorf("sandbox %s: %d resource(s) failed; the first: %s", line.Report.Sandbox, len(f), f[0].Error)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return reps, err
	}
	if len(reps) == 0 {
		return nil, errors.New("server closed the stream before its report")
	}
	return reps, failed
}

func printProvisionReport(w io.Writer, rep *provisioner.Report) {
	mode := "converged"
	if rep.DryRun {
		mode = "plan (dry run, nothing changed)"
	}
	fmt.Fprintf(w, "\nsandbox %s in project %s: %s in %.2fs\n\n", rep.Sandbox, rep.Project, mode, rep.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tACTION\tSTATUS\tDETAIL")
	for _, r := range rep.Resources {
		detail := r.Detail
		if r.Error != "" {
			detail = r.Error
		}
		if len(detail) > 90 {
			detail = detail[:87] + "..."
		}
		// Detail and error quote GCP's answers.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", escape(r.Kind), escape(r.Name), escape(string(r.Action)), escape(r.Status), escape(detail))
	}
	tw.Flush()
}
