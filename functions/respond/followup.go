package respond

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
)

// Bounds of one follow-up run. A run reads up to FollowUpScan running
// follow-ups and looks at the FollowUpBatch looked at least recently, so
// a burst of incidents is served in turn, never the same ones first; a
// look is a few quick reads, FollowUpWorkers at a time.
const (
	FollowUpScan    = 500
	FollowUpBatch   = 50
	FollowUpWorkers = 4
)

// The Cloud Logging read budget every incident's evidence reads share
// (collect-logs: usually one entries.list call, at most a few): at most
// LogReadsPerMinute a minute on the responder's clock, LogReadsBurst at
// once, so at most 30 in any minute, half of Logging's 60 entries.list
// calls a minute per project (https://cloud.google.com/logging/quotas),
// leaving the rest to the operator's own `gcloud logging read`. A read
// without budget waits for a later look; it never fails the incident.
const (
	LogReadsPerMinute = 20
	LogReadsBurst     = 10
)

// FollowUpStats says what one follow-up run did.
type FollowUpStats struct {
	// Looked is how many running follow-ups were looked at; Finished how
	// many of them ended (complete or incomplete); Busy how many another
	// run held.
	Looked, Finished, Busy int
}

// FollowUp advances every incident whose follow-up is running by one
// look: each follow-up step whose predecessors are over looks once (a VM
// still STOPPING, a snapshot still CREATING: pending, looked at again next
// run). Nothing waits: the scheduled FinishIncidents runs it every minute.
// An incident whose steps are all over ends complete (or incomplete,
// naming what failed and why); one still pending FollowUpLimit after its
// containment ends incomplete with what it was waiting for. A failure here
// never touches the containment: its outcomes stand and it is never run
// again.
func (r *Responder) FollowUp(ctx context.Context) (FollowUpStats, error) {
	var st FollowUpStats
	if r.st == nil {
		return st, ErrNoStore
	}
	recs, err := r.st.FollowUps(ctx, FollowUpScan)
	if err != nil {
		return st, err
	}
	// Least recently looked at first (ordered here: a query ordered by
	// another field than its filter's needs a composite index).
	slices.SortFunc(recs, func(a, b *store.Record) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	recs = recs[:min(len(recs), FollowUpBatch)]
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan string)
	for range FollowUpWorkers {
		wg.Go(func() {
			for id := range work {
				finished, err := r.followUp(ctx, id)
				mu.Lock()
				switch {
				case errors.Is(err, store.ErrBusy):
					st.Busy++
				case err != nil:
					errs = append(errs, err)
					st.Looked++
				default:
					st.Looked++
					if finished {
						st.Finished++
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, rec := range recs {
		work <- rec.ID
	}
	close(work)
	wg.Wait()
	return st, errors.Join(errs...)
}

// followUp looks once at one incident's follow-up and reports whether it
// ended.
func (r *Responder) followUp(ctx context.Context, id string) (bool, error) {
	owner := r.owner + "/follow-up"
	rec, err := r.st.Lock(ctx, id, owner)
	if err != nil {
		return false, err
	}
	recorded := false
	defer func() {
		if !recorded {
			_ = r.st.Unlock(context.WithoutCancel(ctx), id, owner)
		}
	}()
	if rec.FollowUp != incident.FollowUpRunning || rec.Report == nil {
		return false, nil // ended meanwhile (another run, or resolve)
	}
	log := logger.FromContext(ctx).With("incident", id)
	plan, err := playbook.For(rec.Incident.Playbook)
	if err != nil {
		return false, err
	}
	rep := *rec.Report
	// The incident's project is the one its response resolved (and
	// recorded): coopguard's own, or a sandbox's the registry records.
	project := cmp.Or(rec.Incident.Project, r.cfg.Cloud.GCP.Project)
	t := &actions.Target{
		Project: project, Home: r.cfg.Cloud.GCP.Project, Zone: r.cfg.Cloud.GCP.Zone,
		Incident: rec.Incident, Secrets: r.cfg.SandboxSecrets(rec.Instance), Workspace: r.cfg.SandboxWorkspace(rec.Instance),
		AgentStopTimeout: r.cfg.Coopguard.AgentStopTimeout.Duration,
		LogWindow:        30 * time.Minute,
		NATLogs:          r.cfg.Coopguard.Evidence.NATLogs,
		Now:              r.now,
		Prior:            rec.Actions,
		LogReads:         r.takeLogRead,
	}
	gone := ""
	inst, err := r.getInstance(ctx, project, rec.Instance)
	switch {
	case retry.IsNotFound(err):
		gone = "VM " + rec.Instance + " no longer exists (deleted after containment)"
	case err != nil:
		return false, fmt.Errorf("follow-up of %s: read instance %s: %w", id, rec.Instance, err)
	default:
		t.Instance = inst
	}
	expired := !r.st.Now().Before(rec.FollowUpUntil)
	results := r.lookOnce(ctx, plan.FollowUp, t, rec.Actions, gone, expired)
	looked := make([]incident.ActionResult, 0, len(results))
	done := indexResults(rep.Actions)
	pending := false
	for _, res := range results {
		looked = append(looked, res.ActionResult)
		done[res.Action] = res.ActionResult
		pending = pending || res.Result == incident.ResultPending
		if res.Evidence != nil {
			rep.Evidence = res.Evidence
		}
	}
	if err := r.st.CommitAction(ctx, id, owner, looked...); err != nil {
		return false, err
	}
	rep.Actions = make([]incident.ActionResult, 0, len(done))
	for _, s := range plan.All() {
		if a, ok := done[s.Action]; ok {
			rep.Actions = append(rep.Actions, a)
		}
	}
	if pending {
		if err := r.st.Progress(ctx, id, owner, &rep); err != nil {
			return false, err
		}
		recorded = true
		return false, nil
	}
	rep.FollowUp = incident.FollowUpDone
	var failed []string
	for _, s := range plan.FollowUp {
		if a := done[s.Action]; a.Result == incident.ResultFailed {
			failed = append(failed, s.Action+": "+a.Reason)
		}
	}
	switch {
	case len(failed) > 0 && rep.Outcome == incident.OutcomeContained:
		// Containment held; what the follow-up could not do is said.
		rep.Outcome, rep.Reason = incident.OutcomeIncomplete, "contained; the follow-up could not finish: "+strings.Join(failed, "; ")
	case len(failed) > 0:
		rep.Reason = "the follow-up could not finish: " + strings.Join(failed, "; ")
	case rep.Outcome == incident.OutcomeContained:
		rep.Outcome = incident.OutcomeComplete
	}
	rep.FinishedAt = r.now()
	if err := r.st.Finish(ctx, id, owner, &rep); err != nil {
		return false, err
	}
	recorded = true
	r.copyReport(ctx, &rep)
	log.Log(ctx, severityLevel(rep.Severity()), "incident follow-up "+rep.Outcome, "outcome", rep.Outcome, "reason", rep.Reason)
	return true, nil
}

// followResult is one follow-up step's outcome and the evidence it read.
type followResult struct {
	incident.ActionResult
	Evidence *incident.Evidence
}

// lookOnce runs each follow-up step whose predecessors are over, once, in
// plan order: a step over before (done, already, dry-run, failed) keeps its
// outcome; one after a step still pending stays pending; a transient error
// is noted and looked at again next run; ErrPermanent fails the step; past
// the deadline (expired) a step still pending fails with what it waited
// for, except a step waiting only for the Logging read budget, which
// waits on (the budget comes back within a minute). gone, when set, fails
// every open step with that reason.
func (r *Responder) lookOnce(ctx context.Context, steps []playbook.Step, t *actions.Target, prior map[string]incident.ActionResult, gone string, expired bool) []followResult {
	over := func(res string) bool { return res != incident.ResultPending && res != "" }
	now := map[string]incident.ActionResult{}
	var out []followResult
	for _, s := range steps {
		prev := prior[s.Action]
		if over(prev.Result) {
			now[s.Action] = prev
			continue
		}
		res := incident.ActionResult{Action: s.Action, Start: time.Now(), Retries: prev.Retries, Changed: prev.Changed}
		var ev *incident.Evidence
		waiting := ""
		for _, dep := range s.After {
			d := now[dep]
			if expired {
				// The last pass starts nothing new: a step whose
				// predecessor was still open gives up waiting for it.
				d = prior[dep]
			}
			if !over(d.Result) {
				waiting = "waiting for " + dep
			}
		}
		switch {
		case gone != "":
			res.Result, res.Reason = incident.ResultFailed, gone
		case waiting != "":
			res.Result, res.Detail = incident.ResultPending, waiting
		default:
			a, ok := actions.Lookup(s.Action)
			if !ok {
				res.Result, res.Reason = incident.ResultFailed, errUnknownAction(s.Action).Error()
				break
			}
			// One try, bounded like any attempt: a hung call is this
			// look's failure, not the run's.
			actx, cancel := context.WithTimeout(ctx, cmp.Or(r.policy.PerTry, retry.Default.PerTry))
			out, err := a.Run(actx, r.c, t)
			cancel()
			res.Target, res.Detail, res.State = out.Target, out.Detail, out.State
			res.Changed = mergeChanged(res.Changed, out.Changed)
			ev = out.Evidence
			switch {
			case errors.Is(err, actions.ErrLogBudget):
				res.Result, res.Detail = incident.ResultPending, budgetWait
			case errors.Is(err, actions.ErrPermanent):
				res.Result, res.Reason = incident.ResultFailed, err.Error()
			case err != nil:
				res.Result, res.Detail = incident.ResultPending, "looking again: "+err.Error()
				res.Retries = append(res.Retries, time.Now().UTC().Format(time.RFC3339Nano)+": "+err.Error())
			default:
				res.Result = out.Result
			}
		}
		if res.Result == incident.ResultPending && expired && res.Detail != budgetWait {
			res.Result, res.Reason = incident.ResultFailed, fmt.Sprintf("gave up %s after containment: still %s", store.FollowUpLimit, firstNonEmpty(res.Detail, "pending"))
		}
		res.End = time.Now()
		res.Seconds = res.End.Sub(res.Start).Seconds()
		if res.Result == incident.ResultFailed {
			logger.FromContext(ctx).Warn("follow-up step failed", "action", s.Action, "reason", res.Reason)
		}
		now[s.Action] = res
		out = append(out, followResult{ActionResult: res, Evidence: ev})
	}
	return out
}

// budgetWait is the detail of an evidence read waiting for the budget.
var budgetWait = fmt.Sprintf("waiting for the Cloud Logging read budget (%d reads a minute shared by every incident, within Logging's 60)", LogReadsPerMinute)

// takeLogRead takes one Cloud Logging read from the responder's budget.
func (r *Responder) takeLogRead() bool { return r.logReads.AllowN(r.now(), 1) }

// mergeChanged is a ∪ b, in order.
func mergeChanged(a, b []string) []string {
	out := slices.Clone(a)
	for _, c := range b {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
