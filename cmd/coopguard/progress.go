package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/render"
	"github.com/cloudcoop/coopguard/shared/store"
)

// followEvery is how often --wait looks at the incident again. The
// follow-up moves once a minute (FinishIncidents), so a few seconds shows
// every change soon enough without loading the server; tests shorten it.
var followEvery = 2 * time.Second

// followMargin is how long --wait follows past store.FollowUpLimit: by
// then the server has given up on anything still pending and ended the
// follow-up, at its next run.
const followMargin = 2 * time.Minute

// reportReader reads the latest report of one incident: nil, nil while
// there is none.
type reportReader func(ctx context.Context) (*incident.Report, error)

// serverReport reads incident id's report from the server's Status.
func serverReport(t *target, id string) reportReader {
	return func(ctx context.Context) (*incident.Report, error) {
		st, err := serverStatus(ctx, t)
		if err != nil {
			return nil, err
		}
		var last *incident.Report
		for i := range st.Incidents {
			if st.Incidents[i].Incident.ID == id {
				last = &st.Incidents[i]
			}
		}
		return last, nil
	}
}

// storeReport reads incident id's report from the incident store (direct
// mode).
func storeReport(s *store.Store, id string) reportReader {
	return func(ctx context.Context) (*incident.Report, error) {
		if s == nil {
			return nil, respond.ErrNoStore
		}
		rec, err := s.Get(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, err
		}
		rep := rec.View()
		return &rep, nil
	}
}

// acting reports whether a response is still making its containment
// (the store's claimed or acting): every other outcome is what the
// containment came to.
func acting(outcome string) bool {
	return outcome == store.StateClaimed || outcome == store.StateActing
}

// followable reports whether rep may still change by itself: its
// containment is under way or its follow-up runs.
func followable(rep *incident.Report) bool {
	return acting(rep.Outcome) || rep.FollowUp == incident.FollowUpRunning
}

// followUpSteps returns the report's follow-up steps in report order:
// those its playbook runs after the containment, and any step pending.
func followUpSteps(rep *incident.Report) []incident.ActionResult {
	names := map[string]bool{}
	if p, err := playbook.For(rep.Incident.Playbook); err == nil {
		for _, s := range p.FollowUp {
			names[s.Action] = true
		}
	}
	var out []incident.ActionResult
	for _, a := range rep.Actions {
		if names[a.Action] || a.Result == incident.ResultPending {
			out = append(out, a)
		}
	}
	return out
}

// followUpState says where the follow-up stands, for a terminal: "running
// — 2 of 4 steps over", "done", or "" when there is none.
func followUpState(rep *incident.Report) string {
	switch rep.FollowUp {
	case "":
		return ""
	case incident.FollowUpRunning:
		steps := followUpSteps(rep)
		over := 0
		for _, a := range steps {
			if a.Result != incident.ResultPending {
				over++
			}
		}
		return fmt.Sprintf("running — %d of %d steps over", over, len(steps))
	}
	return escape(rep.FollowUp)
}

// stillRunning lists the steps still pending and what they wait for,
// steps waiting for the same thing together: "vm-terminated (VM is
// STOPPING), snapshot-disk, collect-logs (waiting for vm-terminated)".
// Escaped for a terminal.
func stillRunning(rep *incident.Report) string {
	pending := render.Pending(rep)
	var parts []string
	for i := 0; i < len(pending); {
		j := i + 1
		for j < len(pending) && pending[j].Detail == pending[i].Detail {
			j++
		}
		var names []string
		for _, a := range pending[i:j] {
			names = append(names, escape(a.Action))
		}
		s := strings.Join(names, ", ")
		if d := pending[i].Detail; d != "" {
			s += " (" + escape(d) + ")"
		}
		parts = append(parts, s)
		i = j
	}
	return strings.Join(parts, ", ")
}

// isTerminal reports whether w is a terminal, where the progress display
// redraws its lines in place; anywhere else (a pipe, a file, a CI log) it
// prints one line per change.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// follow looks at the incident every followEvery until it stops changing
// by itself (its follow-up done, its containment over) and returns the
// last report; p, when not nil, shows each look. It returns early, with
// the last report and an error, when ctx ends, the incident is no longer
// listed, or three looks in a row fail.
func follow(ctx context.Context, rep *incident.Report, read reportReader, p *progress) (*incident.Report, error) {
	failures := 0
	for followable(rep) {
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(followEvery):
		}
		next, err := read(ctx)
		switch {
		case ctx.Err() != nil:
			return rep, ctx.Err()
		case err != nil:
			// One failed look (a server restarting) is not the end of a
			// follow-up that takes minutes.
			if failures++; failures == 3 {
				return rep, err
			}
			continue
		case next == nil:
			return rep, fmt.Errorf("incident %s is no longer listed", rep.Incident.ID)
		}
		failures, rep = 0, next
		if p != nil {
			p.update(rep)
		}
	}
	return rep, nil
}

// progress shows a follow-up as it progresses. On a terminal it redraws
// a block in place: the state, then one line per follow-up step.
// Elsewhere it prints a line for each step whose result or detail changed,
// and one for each change of the outcome or follow-up state on the way
// (followTo says how it ended), never a line unchanged.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	// shown is, per action, what its last printed line said; state the
	// last outcome and follow-up state printed (line mode).
	shown map[string]string
	state string
	// drawn is how many lines the last redraw wrote (terminal).
	drawn int
}

// newProgress starts the display of rep, whose summary was printed: in
// line mode nothing more is printed until something changes.
func newProgress(w io.Writer, tty bool, rep *incident.Report) *progress {
	p := &progress{w: w, tty: tty, start: time.Now(), shown: map[string]string{}}
	if tty {
		p.update(rep)
		return p
	}
	p.state = rep.Outcome + "\x00" + rep.FollowUp
	for _, a := range rep.Actions {
		p.shown[a.Action] = said(a)
	}
	return p
}

// said is what an action's line says, without the times of its last look
// (a look that found the same is no change).
func said(a incident.ActionResult) string {
	return a.Result + "\x00" + a.Reason + "\x00" + a.Detail
}

// update shows rep.
func (p *progress) update(rep *incident.Report) {
	if p.tty {
		p.redraw(rep)
		return
	}
	for _, a := range rep.Actions {
		if s := said(a); p.shown[a.Action] != s {
			p.shown[a.Action] = s
			fmt.Fprintf(p.w, "  %8s  %s\n", since(rep, a), stepLine(a, 15, 0))
		}
	}
	// How it ended is said once, by followTo: here only the changes on
	// the way (a containment that held, a follow-up that started).
	if st := rep.Outcome + "\x00" + rep.FollowUp; st != p.state && followable(rep) {
		p.state = st
		line := "  outcome " + escape(rep.Outcome)
		if s := followUpState(rep); s != "" {
			line += ", follow-up " + s
		}
		fmt.Fprintln(p.w, line)
	}
}

// redraw writes the block over the one drawn before. Lines do not wrap
// while it draws (DECAWM off), so a line wider than the terminal cannot
// push the block down and break the next redraw.
func (p *progress) redraw(rep *incident.Report) {
	steps := followUpSteps(rep)
	if len(steps) == 0 {
		steps = rep.Actions
	}
	width := 0
	for _, a := range steps {
		width = max(width, len(escape(a.Action)))
	}
	state := followUpState(rep)
	if state == "" {
		state = escape(rep.Outcome)
	}
	lines := []string{fmt.Sprintf("  follow-up %s  (%s, following for %s)", state, escape(rep.Outcome), time.Since(p.start).Round(time.Second))}
	for _, a := range steps {
		lines = append(lines, "    "+stepLine(a, width, 100))
	}
	var b strings.Builder
	b.WriteString("\x1b[?7l")
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", p.drawn)
	}
	b.WriteString("\x1b[J")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString("\x1b[?7h")
	io.WriteString(p.w, b.String())
	p.drawn = len(lines)
}

// stepLine is one step's action, result and detail (its reason when it
// failed), escaped; the detail is cut to most runes when most > 0.
func stepLine(a incident.ActionResult, width, most int) string {
	detail := escape(a.Detail)
	if a.Reason != "" {
		detail = escape(a.Reason)
	}
	if r := []rune(detail); most > 0 && len(r) > most {
		detail = string(r[:most-1]) + "…"
	}
	return strings.TrimRight(fmt.Sprintf("%-*s  %-8s %s", width, escape(a.Action), escape(a.Result), detail), " ")
}

// since is when a step's last look ended, in seconds after the event was
// received (the server's clock, as the report's other times), or "" when
// it has not been looked at.
func since(rep *incident.Report, a incident.ActionResult) string {
	if a.End.IsZero() {
		return ""
	}
	return "+" + strconv.FormatFloat(a.End.Sub(rep.ReceivedAt).Seconds(), 'f', 1, 64) + "s"
}

// followTo follows rep until it is over, showing the progress on w (a
// terminal, or one line per change), and prints how it ended. It returns
// the last report, and an error when it stopped following before the end.
// With quiet it shows nothing (--json prints only the final report).
func followTo(ctx context.Context, w io.Writer, rep *incident.Report, read reportReader, quiet bool) (*incident.Report, error) {
	if !followable(rep) {
		return rep, nil
	}
	ctx, cancel := context.WithTimeout(ctx, store.FollowUpLimit+followMargin)
	defer cancel()
	var p *progress
	if !quiet {
		fmt.Fprintf(w, "\nfollowing %s (the follow-up runs every minute; Ctrl-C stops following, not the follow-up)\n", escape(rep.Incident.ID))
		p = newProgress(w, isTerminal(w), rep)
	}
	last, err := follow(ctx, rep, read, p)
	if err != nil {
		return last, fmt.Errorf("stopped following %s before its end: %w", last.Incident.ID, err)
	}
	if !quiet {
		safe := printable(*last)
		fmt.Fprintf(w, "\nincident %s %s", safe.Incident.ID, safe.Outcome)
		if s := followUpState(last); s != "" {
			fmt.Fprintf(w, ", follow-up %s", s)
		}
		fmt.Fprintln(w)
		if safe.Reason != "" {
			fmt.Fprintf(w, "  reason    %s\n", safe.Reason)
		}
		printEvidence(w, last.Evidence)
	}
	return last, nil
}
