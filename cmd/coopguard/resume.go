package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/respond"
)

// runResume is `coopguard resume INCIDENT`: the runbook's rotation of every
// managed secret of the sandbox, then the restore (functions.Resume). It
// acts in this process with the operator's credentials (--config): each
// step needs a different job's permissions, and no deployed function
// holds them all.
func runResume(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	var t target
	t.flags(fs)
	force := fs.Bool("force", false, "resume although the incident's cause is unexplained (no coopguard resolve --note); needs --reason")
	reason := fs.String("reason", "", "with --force: why, recorded on the incident")
	dryRun := fs.Bool("dry-run", false, "check and print what would be revoked, rotated and restored; change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	id, err := parseIDFlags(fs, args, "coopguard resume INCIDENT [--dry-run] [--force --reason TEXT] --config FILE")
	if err != nil {
		return err
	}
	if *reason != "" && !*force {
		return fmt.Errorf("%w: resume: --reason goes with --force; to record the cause found, use coopguard resolve %s --note TEXT", errUsage, id)
	}
	if !t.direct() {
		return errors.New("resume acts with your own credentials on the project: pass --config (or set COOPGUARD_CONFIG)")
	}
	e, err := t.env(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	rep, runErr := functions.Resume(ctx, e, id, respond.ResumeOptions{By: "local:" + whoami(), Force: *force, Reason: *reason, DryRun: *dryRun})
	if rep == nil {
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
