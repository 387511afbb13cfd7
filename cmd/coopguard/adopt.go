package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
)

// runAdopt guards existing VMs as they are: `coopguard adopt --name VM`
// or `--all` (every VM cloudcoop created in the zone). Nothing is
// stopped; what needs a stop is listed with its fix.
func runAdopt(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("adopt", flag.ContinueOnError)
	var t target
	t.flags(fs)
	name := fs.String("name", "", "the VM to adopt; default vm.name from config")
	project := fs.String("project", "", "the VM's project; default coopguard's own (cloud.gcp.project)")
	all := fs.Bool("all", false, "adopt every VM of the zone carrying metadata "+provisioner.CloudcoopMarker)
	dryRun := fs.Bool("dry-run", false, "show the plan and change nothing")
	disruptive := fs.Bool("disruptive", false, "also make the fixes that need a stop (no external IP, Shielded VM, its own account); it is started again if it was running")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *all && *name != "" {
		return fmt.Errorf("%w: --all and --name exclude each other: name one VM, or adopt all of cloudcoop's", errUsage)
	}
	progress := provisionProgress(stdout, *asJSON)
	opts := provisioner.Options{Name: *name, Project: *project, DryRun: *dryRun, Adopt: true, Disruptive: *disruptive, Progress: progress}
	var reps []*provisioner.Report
	var runErr error
	if t.direct() {
		e, err := t.env(ctx)
		if err != nil {
			return err
		}
		defer e.Close()
		if *all {
			reps, runErr = e.Provisioner.AdoptAll(ctx, opts)
		} else {
			var rep *provisioner.Report
			rep, runErr = e.Provisioner.Converge(ctx, opts)
			if rep != nil {
				reps = append(reps, rep)
			}
		}
	} else {
		reps, runErr = provisionRemote(ctx, &t, functions.ProvisionRequest{Name: *name, Project: *project, DryRun: *dryRun, Adopt: true, AdoptAll: *all, Disruptive: *disruptive}, progress)
	}
	if *asJSON {
		if err := printJSON(stdout, reps); err != nil {
			return err
		}
	} else {
		for _, rep := range reps {
			printProvisionReport(stdout, rep)
			printAdoption(stdout, rep)
		}
	}
	if runErr != nil {
		return fmt.Errorf("adopt incomplete: %w", runErr)
	}
	return nil
}

// printAdoption prints what the adopted VM still lacks, with each fix,
// and how to install the agent watcher now.
func printAdoption(w io.Writer, rep *provisioner.Report) {
	if rep.Adopted == "" {
		return
	}
	fmt.Fprintf(w, "\nadopted on network %s, without a restart.\n", escape(rep.Adopted))
	if len(rep.Gaps) > 0 {
		fmt.Fprintln(w, "Needs a stop or a rebuild (not done; run when the VM may stop):")
		auto := 0
		for _, g := range rep.Gaps {
			fmt.Fprintf(w, "  - %s\n    fix: %s\n", escape(g.What), escape(g.Fix))
			if g.Disruptive {
				auto++
				fmt.Fprintln(w, "    (--disruptive applies this fix)")
			}
		}
		if auto > 0 {
			fmt.Fprintf(w, "coopguard provision --project %s --name %s --disruptive applies the %d marked fix(es) with one stop; add --dry-run to see the plan.\n",
				escape(rep.Project), escape(rep.Sandbox), auto)
		}
	}
	if rep.WatcherInstall != "" {
		fmt.Fprintf(w, "The agent watcher installs at the VM's next boot; to install it now:\n  %s\n", escape(rep.WatcherInstall))
	}
}
