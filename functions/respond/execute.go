package respond

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
)

// execute runs the plan: each step as soon as the steps it comes after have
// finished (whatever their result), all others in parallel. A step whose
// prior outcome (committed by an earlier attempt) is done or already is
// not run again; its committed outcome stands. commit (nil: none) records
// outcomes as they finish, off the steps' path: a step's dependents start
// when it ends, while its outcome is written (outcomes that finish during
// a write go together in the next one), and execute returns only once
// every outcome is committed. Once commit reports store.ErrLeaseLost,
// steps not yet started are skipped. guard (nil: none) is held around each
// action's run (see Responder.guard). It returns the results in plan order,
// collect-logs' evidence, the critical path (the longest chain of steps
// weighted by their measured durations) and the commit errors.
func execute(ctx context.Context, c *gcp.Clients, policy retry.Policy, plan playbook.Plan, t *actions.Target,
	prior map[string]incident.ActionResult, commit func(...incident.ActionResult) error, guard func(ctx context.Context, action string) (func(), error)) ([]incident.ActionResult, *incident.Evidence, time.Duration, error) {
	n := len(plan.Steps)
	index := make(map[string]int, n)
	for i, s := range plan.Steps {
		index[s.Action] = i
	}
	results := make([]incident.ActionResult, n)
	excerpts := make([]*incident.Evidence, n)
	finishedAt := make([]time.Duration, n) // critical-path finish of each step
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	log := logger.FromContext(ctx)
	var (
		mu         sync.Mutex
		commitErrs []error
		lost       bool
	)
	outcomes := make(chan incident.ActionResult, n)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		for res := range outcomes {
			batch := []incident.ActionResult{res}
		more:
			for {
				select {
				case r, ok := <-outcomes:
					if !ok {
						break more
					}
					batch = append(batch, r)
				default:
					break more
				}
			}
			if commit == nil {
				continue
			}
			if err := commit(batch...); err != nil {
				mu.Lock()
				commitErrs = append(commitErrs, err)
				lost = lost || errors.Is(err, store.ErrLeaseLost)
				mu.Unlock()
			}
		}
	}()
	for i, s := range plan.Steps {
		go func() {
			defer close(done[i])
			var after time.Duration
			for _, dep := range s.After {
				j := index[dep]
				<-done[j]
				after = max(after, finishedAt[j])
			}
			if p, ok := prior[s.Action]; ok && (p.Result == incident.ResultDone || p.Result == incident.ResultAlready) {
				results[i], finishedAt[i] = p, after
				return
			}
			mu.Lock()
			stop := lost
			mu.Unlock()
			if stop {
				results[i] = incident.ActionResult{Action: s.Action, Result: incident.ResultSkipped, Reason: "another responder took the incident over"}
				return
			}
			res := incident.ActionResult{Action: s.Action, Start: time.Now()}
			a, ok := actions.Lookup(s.Action)
			var out actions.Outcome
			var err error
			if !ok {
				err = errUnknownAction(s.Action)
			} else {
				// Actions re-check state, so a transient failure is retried
				// in place; what still fails is reported and redelivered.
				p := policy
				p.OnRetry = func(attempt int, err error) {
					res.Retries = append(res.Retries, time.Now().UTC().Format(time.RFC3339Nano)+" attempt "+strconv.Itoa(attempt+1)+": "+err.Error())
				}
				// Each step has its own view of the instance; a retry
				// re-reads it, because the failed attempt may have changed
				// it (an operation that applied but could not be polled).
				view, attempt := *t, 0
				release := func() {}
				if guard != nil {
					release, err = guard(ctx, s.Action)
				}
				if err == nil {
					err = retry.Do(ctx, p, func(ctx context.Context) error {
						if attempt++; attempt > 1 && view.Instance != nil {
							if fresh, gerr := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: view.Project, Zone: view.Zone, Instance: view.Instance.GetName()}); gerr == nil {
								view.Instance = fresh
							}
						}
						var err error
						out, err = a.Run(ctx, c, &view)
						return err
					})
					release()
				}
			}
			res.End = time.Now()
			res.Seconds = res.End.Sub(res.Start).Seconds()
			res.Target, res.Detail, res.Result, res.Changed, res.State = out.Target, out.Detail, out.Result, out.Changed, out.State
			if err != nil {
				res.Result, res.Reason = incident.ResultFailed, err.Error()
				log.Error("action failed", "action", s.Action, "error", err)
			} else {
				log.Log(ctx, slog.LevelInfo, "action "+res.Result, "action", s.Action, "target", res.Target, "detail", res.Detail)
			}
			outcomes <- res
			results[i], excerpts[i] = store.MergeResult(prior[s.Action], res), out.Evidence
			finishedAt[i] = after + res.End.Sub(res.Start)
		}()
	}
	var excerpt *incident.Evidence
	var critical time.Duration
	for i := range done {
		<-done[i]
		critical = max(critical, finishedAt[i])
		if excerpts[i] != nil {
			excerpt = excerpts[i]
		}
	}
	close(outcomes)
	<-committed
	mu.Lock()
	defer mu.Unlock()
	return results, excerpt, critical, errors.Join(commitErrs...)
}

type errUnknownAction string

func (e errUnknownAction) Error() string { return "unknown action " + string(e) + " in playbook" }

// severityLevel maps a Cloud Logging severity to a slog level.
func severityLevel(sev string) slog.Level {
	switch sev {
	case "CRITICAL", "ALERT", "EMERGENCY":
		return logger.LevelCritical
	case "ERROR":
		return slog.LevelError
	case "WARNING":
		return slog.LevelWarn
	case "NOTICE":
		return logger.LevelNotice
	}
	return slog.LevelInfo
}
