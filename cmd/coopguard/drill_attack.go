package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cloudcoop/coopguard/attack"
)

// runAttackDrill plays one attack drill (or lists them). The drill makes
// the agent's calls inside an emulated project of its own, which it starts,
// deploys coopguard to and provisions, so it needs no server and touches
// nothing real.
func runAttackDrill(ctx context.Context, name string, stdout io.Writer) error {
	if name == "list" {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DRILL\tKIND\tCOUNTERPART\tWHAT")
		for _, s := range attack.Scenarios() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\n", s.Name, s.Kind, s.Counterpart, s.Actor, s.Summary)
		}
		return tw.Flush()
	}
	s, err := attack.Find(name)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	fmt.Fprintln(stdout, "starting an emulated project, deploying coopguard and provisioning the sandbox (nothing real is touched)…")
	w, err := attack.Start(ctx, attack.Options{})
	if err != nil {
		return fmt.Errorf("drill --attack %s: %w", name, err)
	}
	defer w.Close()
	r, err := attack.Run(ctx, w, s, attack.RunOptions{})
	if r != nil {
		r.Print(stdout)
	}
	if err != nil {
		return err
	}
	if !r.Passed() {
		return fmt.Errorf("drill --attack %s: %w", name, attack.ErrNotPassed)
	}
	return nil
}
