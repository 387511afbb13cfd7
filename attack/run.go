package attack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/render"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// AuditEntry is the gist of one Cloud Audit Logs entry a call made.
type AuditEntry struct {
	InsertID, LogName, Method, Resource, Principal string
	// Code is the call's status code (7: permission denied).
	Code int32
}

// Result is what one drill saw, from the call to the end.
type Result struct {
	Scenario Scenario
	// Principal made the calls; CalledAt is when they began.
	Principal string
	CalledAt  time.Time
	// Audit are the audit entries the calls made.
	Audit []AuditEntry
	// Sink is the log sink Provision made, Filter its filter, Routed how
	// many entries it published since the call, to Topic.
	Sink, Filter, Topic string
	Routed              int
	// Deliveries is how many log entries HandleLogEntry answered since.
	Deliveries int
	// Incidents are the reports coopguard recorded since the call.
	Incidents []incident.Report
	// Before and After are the sandbox's state around the drill.
	Before, After State
	// FirstAction is the time from the call to the first change
	// containment made (a key version disabled, the VM leaving RUNNING);
	// Containment to the sandbox contained. Zero when it never happened.
	FirstAction, Containment time.Duration
}

// Passed reports whether coopguard did what the scenario's kind demands.
func (r *Result) Passed() bool {
	switch r.Scenario.Kind {
	case Attack:
		return r.After.Contained() && len(r.Incidents) > 0
	case Notify:
		for _, rep := range r.Incidents {
			if rep.Outcome != incident.OutcomeNotified {
				return false
			}
		}
		return r.After.Intact() && len(r.Incidents) > 0
	}
	return r.After.Intact() && len(r.Incidents) == 0
}

// RunOptions tune Run.
type RunOptions struct {
	// Advance moves the emulated clock forward at every poll, so
	// operations of a GCP-like profile finish (0: the clock is left alone).
	Advance time.Duration
}

// poll is the pause between looks at the emulated project.
const poll = 5 * time.Millisecond

// Run plays s against w and waits, bounded by ctx, until coopguard is
// done with what the calls caused: every entry the sink routed has been
// answered by HandleLogEntry, and for an attack the sandbox is contained.
// It fails when the scenario's calls fail or ctx ends first; whether
// coopguard did right is Result.Passed.
func Run(ctx context.Context, w *World, s Scenario, o RunOptions) (*Result, error) {
	// Calls coopguard makes in a drill (restore, converge) log where the
	// functions log.
	ctx = logger.WithLogger(ctx, w.Env.Logger)
	r := &Result{Scenario: s, Principal: w.principal(s.Actor), Sink: w.SinkName(), Topic: w.Cfg.Coopguard.Topics.Logs}
	if sinks := w.Emu.Logging.Sinks("projects/" + w.Cfg.Cloud.GCP.Project); len(sinks) > 0 {
		for _, sk := range sinks {
			if sk.GetName() == r.Sink || strings.HasSuffix(r.Sink, "/"+sk.GetName()) {
				r.Filter = sk.GetFilter()
			}
		}
	}
	if s.Setup != nil {
		if err := s.Setup(ctx, w); err != nil {
			return nil, fmt.Errorf("drill %s: setup: %w", s.Name, err)
		}
	}
	r.Before = w.State()
	if s.Setup == nil && !r.Before.Intact() {
		return nil, fmt.Errorf("drill %s: the sandbox is not intact before the drill (%s)", s.Name, r.Before)
	}
	reportsBefore, err := w.reportIDs(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range w.Emu.Logging.AllEntries() {
		seen[e.GetInsertId()] = true
	}
	routed0 := w.Emu.Logging.Stats(r.Sink).Routed
	deliv0 := w.logDeliveries.Load()

	r.CalledAt = time.Now()
	if err := s.Act(ctx, w); err != nil {
		return nil, fmt.Errorf("drill %s: the agent's call: %w", s.Name, err)
	}
	// The emulated GCP writes audit entries before it answers.
	for _, e := range w.Emu.Logging.AllEntries() {
		if !seen[e.GetInsertId()] {
			if a, ok := auditOf(e); ok && a.Principal == r.Principal {
				r.Audit = append(r.Audit, a)
			}
		}
	}

	for {
		if o.Advance > 0 {
			w.Emu.Clock.Advance(o.Advance)
		}
		st := w.State()
		if r.FirstAction == 0 && changed(r.Before, st) {
			r.FirstAction = time.Since(r.CalledAt)
		}
		if r.Containment == 0 && st.Contained() {
			r.Containment = time.Since(r.CalledAt)
		}
		r.Routed = w.Emu.Logging.Stats(r.Sink).Routed - routed0
		r.Deliveries = int(w.logDeliveries.Load() - deliv0)
		settled := r.Deliveries >= r.Routed
		if settled && (s.Kind != Attack || st.Contained()) {
			if err := w.FinishFollowUps(ctx); err != nil {
				return r, fmt.Errorf("drill %s: %w", s.Name, err)
			}
			r.After = w.State()
			break
		}
		select {
		case <-ctx.Done():
			r.After = st
			r.Incidents, _ = w.reportsSince(context.WithoutCancel(ctx), reportsBefore)
			return r, fmt.Errorf("drill %s: %s after %s: %w", s.Name, waitingFor(s, r, st), time.Since(r.CalledAt).Round(time.Millisecond), ctx.Err())
		case <-time.After(poll):
		}
	}
	r.Incidents, err = w.reportsSince(ctx, reportsBefore)
	return r, err
}

// followUpTicks bounds FinishFollowUps: past store.FollowUpLimit.
const followUpTicks = 40

// FinishFollowUps plays the Cloud Scheduler job of FinishIncidents: one
// follow-up pass a minute on the emulated clock, until no incident's
// follow-up runs (the VM TERMINATED, the snapshot READY, the evidence
// read).
func (w *World) FinishFollowUps(ctx context.Context) error {
	for range followUpTicks {
		// As FinishIncidents: a failed look is the next pass's work.
		_, _ = w.Env.Responder.FollowUp(ctx)
		running, err := w.Env.Store.FollowUps(ctx, 1)
		if err != nil {
			return err
		}
		if len(running) == 0 {
			return nil
		}
		w.Emu.Clock.Advance(time.Minute)
	}
	return fmt.Errorf("follow-ups still running after %d Scheduler ticks", followUpTicks)
}

// waitingFor says what a drill that timed out was still waiting for.
func waitingFor(s Scenario, r *Result, st State) string {
	switch {
	case r.Routed == 0 && s.Kind == Attack:
		return "the sink routed none of the call's audit entries (" + fmt.Sprint(len(r.Audit)) + " written) and the sandbox is not contained"
	case r.Deliveries < r.Routed:
		return fmt.Sprintf("HandleLogEntry answered %d of the %d entries the sink routed", r.Deliveries, r.Routed)
	default:
		return "the sandbox is not contained (" + st.String() + ")"
	}
}

// changed reports whether containment has begun: a key version is no
// longer ENABLED or the VM no longer RUNNING.
func changed(before, now State) bool {
	return before.VM != now.VM || !slices.Equal(before.Versions, now.Versions)
}

// principal is the email behind an actor.
func (w *World) principal(actor string) string {
	switch actor {
	case actorThief:
		return Thief
	case actorColleague:
		return Colleague
	case actorOperator:
		return emulator.Operator
	case actorProvisioner:
		return emulator.Provisioner(w.Cfg.Cloud.GCP.Project)
	case actorResponder:
		return emulator.Responder(w.Cfg.Cloud.GCP.Project)
	default:
		return w.Cfg.Cloud.GCP.ServiceAccount
	}
}

// auditOf reads an audit entry's gist; ok is false for other entries.
func auditOf(e *loggingpb.LogEntry) (AuditEntry, bool) {
	if !strings.Contains(e.GetLogName(), "/logs/cloudaudit.googleapis.com%2F") {
		return AuditEntry{}, false
	}
	var a auditpb.AuditLog
	if p := e.GetProtoPayload(); p == nil || p.UnmarshalTo(&a) != nil {
		return AuditEntry{}, false
	}
	return AuditEntry{InsertID: e.GetInsertId(), LogName: e.GetLogName(), Method: a.GetMethodName(), Resource: a.GetResourceName(),
		Principal: a.GetAuthenticationInfo().GetPrincipalEmail(), Code: a.GetStatus().GetCode()}, true
}

// reportIDs lists the incidents recorded so far.
func (w *World) reportIDs(ctx context.Context) (map[string]bool, error) {
	reps, err := functions.ListIncidents(ctx, w.Env, 1000)
	if err != nil {
		return nil, fmt.Errorf("list incident reports: %w", err)
	}
	ids := map[string]bool{}
	for _, r := range reps {
		ids[r.Incident.ID] = true
	}
	return ids, nil
}

// reportsSince returns the latest report of every incident not in before
// (from the incident store; one still being handled is not reported yet).
func (w *World) reportsSince(ctx context.Context, before map[string]bool) ([]incident.Report, error) {
	reps, err := functions.ListIncidents(ctx, w.Env, 1000)
	if err != nil {
		return nil, fmt.Errorf("list incident reports: %w", err)
	}
	var out []incident.Report
	got := map[string]bool{}
	for _, r := range reps {
		if r.Outcome == store.StateClaimed || r.Outcome == store.StateActing {
			continue
		}
		if !before[r.Incident.ID] && !got[r.Incident.ID] {
			got[r.Incident.ID] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// Print renders what the drill went through: the call, its audit entries,
// the sink and topic, what HandleLogEntry decided and did, and the times.
func (r *Result) Print(out io.Writer) {
	s := r.Scenario
	fmt.Fprintf(out, "drill %s (%s): %s %s\n", s.Name, s.Kind, s.Actor, s.Summary)
	fmt.Fprintf(out, "  principal   %s\n", r.Principal)
	if len(r.Audit) == 0 {
		fmt.Fprintln(out, "  audit       no Cloud Audit Logs entry by this principal (the call is not audited, or its Data Access log is off)")
	}
	for _, a := range r.Audit {
		status := "OK"
		if a.Code != 0 {
			status = fmt.Sprintf("status %d", a.Code)
		}
		fmt.Fprintf(out, "  audit       %s  %s on %s (%s)\n", a.LogName[strings.LastIndex(a.LogName, "/")+1:], a.Method, a.Resource, status)
	}
	fmt.Fprintf(out, "  sink        %s: %d entries routed to topic %s\n", r.Sink, r.Routed, r.Topic)
	fmt.Fprintf(out, "  delivered   %d to HandleLogEntry (emulated Eventarc)\n", r.Deliveries)
	if len(r.Incidents) == 0 {
		fmt.Fprintln(out, "  rule        none matched: no incident")
	}
	for _, rep := range r.Incidents {
		inc := rep.Incident
		fmt.Fprintf(out, "  rule        %s (%s)\n", inc.Trigger, inc.Severity)
		fmt.Fprintf(out, "  playbook    %s → %s", inc.Playbook, rep.Outcome)
		if rep.Instance != "" {
			fmt.Fprintf(out, " on %s", rep.Instance)
		}
		fmt.Fprintln(out)
		if rep.Reason != "" {
			fmt.Fprintf(out, "  reason      %s\n", rep.Reason)
		}
		if len(rep.Actions) > 0 {
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "    ACTION\tSECONDS\tRESULT")
			for _, a := range rep.Actions {
				fmt.Fprintf(tw, "    %s\t%.3f\t%s\n", a.Action, a.Seconds, a.Result)
			}
			tw.Flush()
		}
		printEvidence(out, rep.Evidence)
	}
	fmt.Fprintf(out, "  sandbox     before: %s\n              after:  %s\n", r.Before, r.After)
	if r.FirstAction > 0 && s.Kind == Attack {
		fmt.Fprintf(out, "  first containment action %.3fs after the call\n", r.FirstAction.Seconds())
	}
	if r.Containment > 0 {
		fmt.Fprintf(out, "  time from the call to containment: %.3fs\n", r.Containment.Seconds())
	}
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	want := "contained"
	switch s.Kind {
	case Notify:
		want = "left as it was, reported (notify)"
	case Benign, Forged:
		want = "left as it was, no incident"
	}
	fmt.Fprintf(out, "  %s: want %s\n", verdict, want)
}

// printEvidence writes what the report's evidence says, by source.
func printEvidence(out io.Writer, ev *incident.Evidence) {
	source := ""
	for _, b := range render.Evidence(ev) {
		if b.Source != source {
			source = b.Source
			fmt.Fprintf(out, "  evidence    %s\n", source)
		}
		fmt.Fprintf(out, "    %s: %s\n", b.Title, b.Summary)
		if b.Note != "" {
			fmt.Fprintf(out, "      (%s)\n", b.Note)
		}
		for _, r := range b.Rows {
			if b.Untrusted() {
				// The VM wrote these: quoted, so no escape sequence acts.
				r = strconv.Quote(r)
			}
			fmt.Fprintf(out, "      %s\n", r)
		}
	}
}

// ErrNotPassed is returned by the CLI when coopguard did not do what the
// scenario demands.
var ErrNotPassed = errors.New("coopguard did not do what the drill demands")
