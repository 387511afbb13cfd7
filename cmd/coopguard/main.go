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

// commands is the one list of subcommands. It is set in init: the run
// functions' -h reads it (printHelp), which a variable initializer would
// make a cycle.
var commands []command

func init() {
	commands = []command{
		{"serve", "run the functions on 127.0.0.1 (emulated GCP without a configured project)", runServe},
		{"provision", "build or converge the sandbox (--dry-run shows the plan)", runProvision},
		{"adopt", "guard an existing VM as it is, no restart (--name VM, or --all of cloudcoop's)", runAdopt},
		{"status", "show the sandbox: instances, secrets, incidents", runStatus},
		{"rotate", "run the key rotation policy now (--dry-run shows what it would do)", runRotate},
		{"posture", "check the project against the security checklist (exit 1 if any check fails)", runPosture},
		{"drill", "fire drill: send a synthetic incident for the sandbox and show the response (--attack: play a compromised agent)", runDrill},
		{"incidents", "list incidents; incidents show ID prints one as a timeline", runIncidents},
		{"resolve", "resolve INCIDENT [--restore]: close a false positive, optionally undoing the containment", runResolve},
		{"review", "the weekly review: calls, secret reads, connections, incidents, drift, key ages (--since 7d, --html FILE)", runReview},
		{"resume", "resume INCIDENT: rotate every key of the sandbox, give its identity back, start it (the runbook's last step)", runResume},
	}
}

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

// errHelp means COMMAND -h printed the command's help: it does nothing
// else, and coopguard exits 0.
var errHelp = errors.New("help printed")

// examples are the subcommands' examples that COMMAND -h prints. They are
// apart from commands because the commands' run functions read them (via
// parseFlags).
var examples = map[string][]string{
	"serve":     {"coopguard serve                      # demo sandbox on an emulated GCP", "coopguard serve --config .cloudcoop/config.toml"},
	"provision": {"coopguard provision --dry-run        # the plan, nothing changed", "coopguard provision --config .cloudcoop/config.toml"},
	"status":    {"coopguard status", "coopguard status --json", "coopguard status --project my-sandbox-project --sandbox claude-sandbox"},
	"adopt":     {"coopguard adopt --name claude-sandbox --dry-run", "coopguard adopt --all"},
	"rotate":    {"coopguard rotate --dry-run --config .cloudcoop/config.toml"},
	"posture":   {"coopguard posture", "coopguard posture --json", "coopguard posture --project my-sandbox-project --sandbox claude-sandbox"},
	"drill":     {"coopguard drill                      # contain playbook, on coopguard serve", "coopguard drill --sandbox second-sandbox --dry-run", "coopguard drill --attack exfiltration"},
	"incidents": {"coopguard incidents", "coopguard incidents --project my-sandbox-project", "coopguard incidents show INCIDENT_ID"},
	"resolve":   {"coopguard resolve INCIDENT_ID --restore --dry-run", "coopguard resolve INCIDENT_ID --note \"what caused it\""},
	"review":    {"coopguard review --since 7d --sandbox claude-sandbox", "coopguard review --since 7d --html review.html --config .cloudcoop/config.toml"},
	"resume":    {"coopguard resume INCIDENT_ID --dry-run --config .cloudcoop/config.toml", "coopguard resume INCIDENT_ID --config .cloudcoop/config.toml", "coopguard resume INCIDENT_ID --force --reason \"why\" --config .cloudcoop/config.toml"},
}

// helpOut is where COMMAND -h prints (tests swap it).
var helpOut io.Writer = os.Stdout

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
			if err := c.run(ctx, args[1:], stdout); !errors.Is(err, errHelp) {
				return err
			}
			return nil
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
			printHelp(helpOut, fs)
			return errHelp
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}

// parseIDFlags parses a command that takes an incident id, then flags
// (resolve ID, resume ID): -h alone asks for help; a missing id is a
// usage error naming usage.
func parseIDFlags(fs *flag.FlagSet, args []string, usage string) (string, error) {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		return "", parseFlags(fs, args[:1])
	}
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return "", fmt.Errorf("%w: %s", errUsage, usage)
	}
	return args[0], parseFlags(fs, args[1:])
}

// printHelp prints a command's purpose, flags and examples.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	for _, c := range commands {
		if c.name == fs.Name() {
			fmt.Fprintf(w, "coopguard %s: %s\n", c.name, c.usage)
		}
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintln(w, "\nExamples:")
	for _, e := range examples[fs.Name()] {
		fmt.Fprintln(w, "  "+e)
	}
}
