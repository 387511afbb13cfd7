package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Command is one command a deploy script prints in a dry run.
type Command struct {
	Args []string
	// Line is the command as printed (shell-quoted).
	Line string
}

func (c Command) String() string { return c.Line }

// Flag returns the value of --name=value ("" and false when absent).
func (c Command) Flag(name string) (string, bool) {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Is reports whether the command starts with the given words.
func (c Command) Is(words ...string) bool {
	if len(c.Args) < len(words) {
		return false
	}
	for i, w := range words {
		if c.Args[i] != w {
			return false
		}
	}
	return true
}

// DryRun runs script (deploy/deploy.sh, deploy/undeploy.sh) with DRY_RUN=1
// and env (KEY=VALUE, on top of the current environment minus every
// COOPGUARD_* variable) and returns the commands it prints, in order.
func DryRun(ctx context.Context, script string, env ...string) ([]Command, string, error) {
	steps, stdout, err := DryRunListing(ctx, script, env...)
	if err != nil {
		return nil, stdout, err
	}
	var out []Command
	for _, s := range steps {
		if s.Note == "" {
			out = append(out, s.Command)
		}
	}
	return out, stdout, nil
}

// Step is one line of a dry-run listing: a command, or a comment (Note,
// the text after "# "; lib.sh's ensure marks its branches with them).
type Step struct {
	Command
	Note string
}

// DryRunListing is DryRun keeping the comment lines: every command and
// comment the script prints, in order.
func DryRunListing(ctx context.Context, script string, env ...string) ([]Step, string, error) {
	cmd := exec.CommandContext(ctx, "bash", script)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "COOPGUARD_") || strings.HasPrefix(kv, "DRY_RUN") || strings.HasPrefix(kv, "PROJECT=") ||
			strings.HasPrefix(kv, "REGION=") || strings.HasPrefix(kv, "DEPLOY_WORKDIR=") || strings.HasPrefix(kv, "INVOKER=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "DRY_RUN=1")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stdout.String(), fmt.Errorf("DRY_RUN=1 %s: %w\n%s", script, err, stderr.String())
	}
	var lines []string
	var steps []Step
	for _, l := range strings.Split(stdout.String(), "\n") {
		t := strings.TrimSpace(l)
		switch {
		case t == "":
		case strings.HasPrefix(t, "#"):
			if n := strings.TrimSpace(strings.TrimPrefix(t, "#")); n != "" {
				steps = append(steps, Step{Note: n})
			}
		default:
			lines = append(lines, l)
			steps = append(steps, Step{Command: Command{Line: l}})
		}
	}
	args, err := splitShell(ctx, lines)
	if err != nil {
		return nil, stdout.String(), err
	}
	i := 0
	for j := range steps {
		if steps[j].Note == "" {
			steps[j].Args = args[i]
			i++
		}
	}
	return steps, stdout.String(), nil
}

// splitShell turns shell-quoted command lines into argument lists the way
// bash does, with one bash process: each line becomes the arguments of a
// function that prints their count and the arguments, NUL-separated. The
// lines come from printf %q, so they hold no expansions.
func splitShell(ctx context.Context, lines []string) ([][]string, error) {
	var script strings.Builder
	script.WriteString("set -eu\nemit() { printf '%s\\0' \"$#\" \"$@\"; }\n")
	for _, l := range lines {
		if strings.ContainsAny(l, "\n`") || strings.Contains(l, "$(") {
			return nil, fmt.Errorf("deploy: dry-run line is not a plain quoted command: %s", l)
		}
		script.WriteString("emit " + l + "\n")
	}
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("deploy: split dry-run lines: %w\n%s", err, stderr.String())
	}
	fields := strings.Split(string(b), "\x00")
	var out [][]string
	for i := 0; i < len(fields)-1; {
		n, err := strconv.Atoi(fields[i])
		if err != nil || i+1+n > len(fields) {
			return nil, fmt.Errorf("deploy: split dry-run lines: bad record at field %d", i)
		}
		out = append(out, append([]string(nil), fields[i+1:i+1+n]...))
		i += 1 + n
	}
	if len(out) != len(lines) {
		return nil, fmt.Errorf("deploy: split %d dry-run lines into %d commands", len(lines), len(out))
	}
	return out, nil
}
