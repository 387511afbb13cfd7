// Package respond is the executor: it vets an Incident's target, takes
// the playbook's Plan and runs its actions (independent ones in parallel),
// then records one Report. It is the only place where containment does I/O
// in order.
package respond

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// ErrIncomplete is returned when an action failed: the event should be
// redelivered, and the redelivery finishes only what is left.
var ErrIncomplete = errors.New("containment incomplete")

// Responder runs playbooks for one configured project.
type Responder struct {
	cfg *config.Config
	c   *gcp.Clients
	rec *report.Recorder
	now func() time.Time
	// policy is the retry policy of every GCP call.
	policy retry.Policy

	mu       sync.Mutex
	inflight map[string]*flight          // incident id → running response
	done     map[string]*incident.Report // recently contained incidents
	order    []string                    // done's keys, oldest first
	locks    map[string]*sync.Mutex      // instance → one response at a time
}

// flight is a response in progress that concurrent deliveries join.
type flight struct {
	finished chan struct{}
	rep      *incident.Report
	err      error
}

// maxRemembered bounds the in-process memory of finished incidents.
const maxRemembered = 1024

// New returns a Responder. now is the clock (nil: time.Now).
func New(cfg *config.Config, c *gcp.Clients, rec *report.Recorder, now func() time.Time) *Responder {
	if now == nil {
		now = time.Now
	}
	return &Responder{cfg: cfg, c: c, rec: rec, now: now, policy: retry.Default,
		inflight: map[string]*flight{}, done: map[string]*incident.Report{}, locks: map[string]*sync.Mutex{}}
}

// SetRetryPolicy replaces the retry policy (tests shorten it).
func (r *Responder) SetRetryPolicy(p retry.Policy) { r.policy = p }

// Respond handles one incident. Concurrent deliveries of the same incident
// share one response; a redelivery of one this process already contained
// returns the earlier report without acting again. The error wraps
// ErrIncomplete when an action failed.
func (r *Responder) Respond(ctx context.Context, inc incident.Incident, received time.Time) (*incident.Report, error) {
	r.mu.Lock()
	if rep, ok := r.done[inc.ID]; ok {
		r.mu.Unlock()
		return rep, nil
	}
	if f, ok := r.inflight[inc.ID]; ok {
		r.mu.Unlock()
		select {
		case <-f.finished:
			return f.rep, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{finished: make(chan struct{})}
	r.inflight[inc.ID] = f
	r.mu.Unlock()

	// The response outlives a delivery whose caller gave up: other
	// deliveries may be waiting on it.
	f.rep, f.err = r.respond(context.WithoutCancel(ctx), inc, received)

	r.mu.Lock()
	delete(r.inflight, inc.ID)
	if f.err == nil && !inc.DryRun && f.rep.Outcome != incident.OutcomeDryRun {
		r.remember(inc.ID, f.rep)
	}
	r.mu.Unlock()
	close(f.finished)
	return f.rep, f.err
}

// Forget drops the memory of an incident (after `coopguard resolve`).
func (r *Responder) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.done, id)
}

func (r *Responder) remember(id string, rep *incident.Report) {
	r.done[id] = rep
	r.order = append(r.order, id)
	if len(r.order) > maxRemembered {
		delete(r.done, r.order[0])
		r.order = r.order[1:]
	}
}

// instanceLock serialises responses on one instance, so two distinct
// incidents do not race each other's fingerprints; the second finds the
// first's work done.
func (r *Responder) instanceLock(name string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.locks[name]
	if !ok {
		l = &sync.Mutex{}
		r.locks[name] = l
	}
	return l
}

func (r *Responder) respond(ctx context.Context, inc incident.Incident, received time.Time) (*incident.Report, error) {
	log := logger.FromContext(ctx).With("incident", inc.ID, "playbook", inc.Playbook)
	inc.DryRun = inc.DryRun || r.cfg.Coopguard.DryRun
	rep := &incident.Report{Incident: inc, ReceivedAt: received, Actions: []incident.ActionResult{}}

	plan, err := playbook.For(inc.Playbook)
	if err != nil {
		return r.refuse(ctx, rep, err.Error())
	}
	start := time.Now()
	inst, reason, err := r.resolve(ctx, inc)
	if err != nil {
		rep.Outcome, rep.Reason = incident.OutcomeIncomplete, "could not read the instance: "+err.Error()
		return r.finish(ctx, rep, fmt.Errorf("%w: %v", ErrIncomplete, err))
	}
	if reason != "" {
		log.Warn("incident refused", "reason", reason)
		return r.refuse(ctx, rep, reason)
	}
	resolved := time.Since(start)
	rep.Instance = inst.GetName()

	l := r.instanceLock(inst.GetName())
	if !l.TryLock() {
		l.Lock()
		// Another incident on this instance just finished: act on what it
		// left, not on what we read before waiting.
		t0 := time.Now()
		if fresh, err := r.getInstance(ctx, inst.GetName()); err == nil {
			inst = fresh
		}
		resolved += time.Since(t0)
	}
	defer l.Unlock()
	t := &actions.Target{
		Project:          r.cfg.Cloud.GCP.Project,
		Zone:             r.cfg.Cloud.GCP.Zone,
		Instance:         inst,
		Incident:         inc,
		Secrets:          r.cfg.Coopguard.Secrets,
		DryRun:           inc.DryRun,
		AgentStopTimeout: r.cfg.Coopguard.AgentStopTimeout.Duration,
		LogWindow:        30 * time.Minute,
		Now:              r.now,
	}
	results, excerpt, critical := execute(ctx, r.c, r.policy, plan, t)
	rep.Actions, rep.LogExcerpt = results, excerpt
	rep.CriticalPathSeconds = (resolved + critical).Seconds()
	rep.Outcome = incident.OutcomeContained
	switch {
	case inc.DryRun:
		rep.Outcome = incident.OutcomeDryRun
	case inc.Playbook == incident.PlaybookNotify:
		rep.Outcome = incident.OutcomeNotified
	}
	var runErr error
	if rep.Failed() {
		rep.Outcome = incident.OutcomeIncomplete
		runErr = fmt.Errorf("%w: %s", ErrIncomplete, failures(rep))
	}
	return r.finish(ctx, rep, runErr)
}

// refuse records a refusal: nothing was done, and redelivery will not help.
func (r *Responder) refuse(ctx context.Context, rep *incident.Report, reason string) (*incident.Report, error) {
	rep.Outcome, rep.Reason = incident.OutcomeRefused, reason
	return r.finish(ctx, rep, nil)
}

// finish timestamps and records the report. A report that cannot be
// recorded is an error too, so the event is redelivered.
func (r *Responder) finish(ctx context.Context, rep *incident.Report, runErr error) (*incident.Report, error) {
	rep.FinishedAt = r.now()
	last := rep.ReceivedAt
	for _, a := range rep.Actions {
		if a.End.After(last) {
			last = a.End
		}
	}
	rep.ContainmentSeconds = last.Sub(rep.ReceivedAt).Seconds()
	if rep.ContainmentSeconds < 0 {
		rep.ContainmentSeconds = 0
	}
	if r.rec != nil {
		if err := retry.Do(ctx, r.policy, func(ctx context.Context) error { return r.rec.Record(ctx, rep) }); err != nil {
			return rep, errors.Join(runErr, err)
		}
	}
	logger.FromContext(ctx).Log(ctx, severityLevel(rep.Severity()), "incident "+rep.Outcome,
		"incident", rep.Incident.ID, "instance", rep.Instance, "outcome", rep.Outcome, "containmentSeconds", rep.ContainmentSeconds)
	return rep, runErr
}

// resolve finds the incident's instance and checks that coopguard may act
// on it. A non-empty reason means refuse.
func (r *Responder) resolve(ctx context.Context, inc incident.Incident) (*computepb.Instance, string, error) {
	g := r.cfg.Cloud.GCP
	if inc.Project != g.Project {
		return nil, fmt.Sprintf("incident is about project %q; coopguard guards only %q", inc.Project, g.Project), nil
	}
	if inc.Zone != "" && inc.Zone != g.Zone {
		return nil, fmt.Sprintf("incident is about zone %q; the sandbox is in %q", inc.Zone, g.Zone), nil
	}
	var inst *computepb.Instance
	var err error
	if inc.InstanceID != "" {
		if _, perr := strconv.ParseUint(inc.InstanceID, 10, 64); perr != nil {
			return nil, fmt.Sprintf("instance id %q is not numeric", inc.InstanceID), nil
		}
		inst, err = r.findByID(ctx, inc.InstanceID)
	} else {
		// A log entry about the project (not a VM) concerns the configured
		// sandbox, whose service account or secret it names.
		inst, err = r.getInstance(ctx, r.cfg.VM.Name)
		if retry.IsNotFound(err) {
			inst, err = nil, nil
		}
	}
	if err != nil {
		return nil, "", err
	}
	if inst == nil {
		return nil, fmt.Sprintf("no instance %s in %s/%s", firstNonEmpty(inc.InstanceID, r.cfg.VM.Name), g.Project, g.Zone), nil
	}
	if inst.GetLabels()[config.SandboxLabel] == "" {
		return nil, fmt.Sprintf("instance %s (id %d) has no %s label: coopguard acts only on sandboxes it provisioned", inst.GetName(), inst.GetId(), config.SandboxLabel), nil
	}
	return inst, "", nil
}

func (r *Responder) getInstance(ctx context.Context, name string) (*computepb.Instance, error) {
	var inst *computepb.Instance
	err := retry.Do(ctx, r.policy, func(ctx context.Context) error {
		var err error
		inst, err = r.c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: r.cfg.Cloud.GCP.Project, Zone: r.cfg.Cloud.GCP.Zone, Instance: name})
		return err
	})
	return inst, err
}

// findByID finds the instance with the numeric id in the configured zone.
func (r *Responder) findByID(ctx context.Context, id string) (*computepb.Instance, error) {
	var found *computepb.Instance
	err := retry.Do(ctx, r.policy, func(ctx context.Context) error {
		found = nil
		it := r.c.Instances.List(ctx, &computepb.ListInstancesRequest{
			Project: r.cfg.Cloud.GCP.Project, Zone: r.cfg.Cloud.GCP.Zone, Filter: proto.String("id = " + id),
		})
		for {
			inst, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			// The filter is the server's; check the id ourselves too.
			if strconv.FormatUint(inst.GetId(), 10) == id {
				found = inst
				return nil
			}
		}
	})
	return found, err
}

func failures(rep *incident.Report) string {
	var s string
	for _, a := range rep.Actions {
		if a.Result == incident.ResultFailed {
			if s != "" {
				s += "; "
			}
			s += a.Action + ": " + a.Reason
		}
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
