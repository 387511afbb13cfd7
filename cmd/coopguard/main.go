// Command coopguard is coopguard's CLI: serve the functions locally (on an
// emulated GCP when no project is configured), provision the sandbox, show
// its status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloudcoop/coopguard/shared/logger"
)

// command is one subcommand.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string, stdout io.Writer) error
}

// commands is the one list of subcommands.
var commands = []command{
	{"serve", "run the functions on 127.0.0.1 (emulated GCP without a configured project)", runServe},
	{"provision", "build or converge the sandbox (--dry-run shows the plan)", runProvision},
	{"status", "show the sandbox: instances, secrets, incidents", runStatus},
	{"rotate", "run the key rotation policy now (--dry-run shows what it would do)", runRotate},
	{"posture", "check the project against the security checklist (exit 1 if any check fails)", runPosture},
	{"drill", "fire drill: send a synthetic incident for the sandbox and show the response (--attack: play a compromised agent)", runDrill},
	{"incidents", "list incidents; incidents show ID prints one as a timeline", runIncidents},
	{"resolve", "resolve INCIDENT [--restore]: close a false positive, optionally undoing the containment", runResolve},
}

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx = logger.WithLogger(ctx, logger.Default())
	err := realMain(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, escapeText(err.Error()))
		os.Exit(2)
	case err != nil:
		// Errors quote servers, GCP and reports (a drill's reason).
		fmt.Fprintln(os.Stderr, "coopguard:", escapeText(err.Error()))
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return fmt.Errorf("%w: coopguard COMMAND [flags]", errUsage)
		}
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout)
		}
	}
	return fmt.Errorf("%w: unknown command %q: run coopguard help", errUsage, args[0])
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "coopguard: incident responder for cloudcoop sandboxes")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun coopguard COMMAND -h for its flags.")
}

// parseFlags parses fs, turning flag errors into errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}
