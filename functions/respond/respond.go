// Package respond is the executor: it vets an Incident's target, takes
// the playbook's Plan and runs its actions (independent ones in parallel),
// then records one Report. It is the only place where containment does I/O
// in order.
package respond

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"golang.org/x/time/rate"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
)

// ErrIncomplete is returned when an action failed: the event should be
// redelivered, and the redelivery finishes only what is left.
var ErrIncomplete = errors.New("containment incomplete")

// ErrInProgress is returned when this responder lost the incident's lease
// to another while acting: that one writes the report.
var ErrInProgress = errors.New("incident is being handled by another responder")

// Responder runs playbooks for one configured project. What it did lives
// in the incident store (Firestore), shared by every function instance:
// the claim, each action's outcome, the reports.
type Responder struct {
	cfg *config.Config
	c   *gcp.Clients
	rec *report.Recorder
	st  *store.Store
	now func() time.Time
	// owner names this responder in leases: unique per process.
	owner string
	// policy is the retry policy of every GCP call.
	policy retry.Policy

	// inflight joins concurrent deliveries of one incident to this
	// process into one call of the store (a saving, not the dedupe: the
	// store decides who acts across instances).
	mu       sync.Mutex
	inflight map[string]*flight
	// secretsMus (sandbox name → *sync.Mutex) queue this process's
	// actions on each sandbox's managed secrets before the store's lease
	// (see guard).
	secretsMus sync.Map
	// appends coalesces the appends of later events per sandbox (see
	// Append).
	appendMu sync.Mutex
	appends  map[string]*appendSlot
	// logReads is the Cloud Logging read budget every incident's evidence
	// reads share (LogReadsPerMinute, on the responder's clock).
	logReads *rate.Limiter
	// revoker revokes the managed key at its provider (nil: off).
	revoker revoke.Revoker
}

// flight is a delivery in progress that concurrent ones join.
type flight struct {
	finished chan struct{}
	rep      *incident.Report
	err      error
}

// ErrNoStore is returned by a Responder built without an incident store.
var ErrNoStore = errors.New("no incident store: coopguard needs its Firestore database (deploy creates it; tests and coopguard serve start the Firestore emulator)")

// New returns a Responder. rec receives copies of the reports (Cloud
// Logging, the incidents topic, the metric); st is the system of record.
// now is the clock (nil: the store's, which leases and the follow-up's
// deadline are measured with; time.Now without a store).
func New(cfg *config.Config, c *gcp.Clients, rec *report.Recorder, st *store.Store, now func() time.Time) *Responder {
	switch {
	case now != nil:
	case st != nil:
		now = st.Now
	default:
		now = time.Now
	}
	r := &Responder{cfg: cfg, c: c, rec: rec, st: st, now: now, policy: retry.Default, owner: "responder-" + uuid.NewString(),
		inflight: map[string]*flight{}, appends: map[string]*appendSlot{},
		logReads: rate.NewLimiter(rate.Every(time.Minute/LogReadsPerMinute), LogReadsBurst)}
	var keys revoke.KeyIDs
	if st != nil {
		keys = st
	}
	if c != nil {
		r.revoker = revoke.New(cfg.Coopguard.Revoke, cfg.Cloud.GCP.Project, c.Secrets, keys, nil)
	}
	return r
}

// SetRetryPolicy replaces the retry policy (tests shorten it).
func (r *Responder) SetRetryPolicy(p retry.Policy) { r.policy = p }

// Store is the incident store (nil when none was given).
func (r *Responder) Store() *store.Store { return r.st }

// Respond handles one delivery of an incident. The store decides who
// acts: the first delivery claims the incident and answers once the
// containment holds (the follow-up runs later, see FollowUp); a delivery
// while another responder holds it is answered at once with the progress
// so far (the holder's own delivery stays unacknowledged until it is done,
// so if the holder dies, that delivery comes back and finishes the work);
// a delivery of a finished incident returns the stored report without
// acting (see package store for the rule); a delivery after a responder
// died, or of an incomplete incident, resumes the actions not yet done.
// The error wraps ErrIncomplete when an action failed.
func (r *Responder) Respond(ctx context.Context, inc incident.Incident, received time.Time) (*incident.Report, error) {
	if r.st == nil {
		return nil, ErrNoStore
	}
	r.mu.Lock()
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
	f.rep, f.err = r.deliver(ctx, inc, received)
	r.mu.Lock()
	delete(r.inflight, inc.ID)
	r.mu.Unlock()
	close(f.finished)
	return f.rep, f.err
}

// deliver is one delivery's exchange with the store: claim and act, or
// answer with the record.
func (r *Responder) deliver(ctx context.Context, inc incident.Incident, received time.Time) (*incident.Report, error) {
	inc.DryRun = inc.DryRun || r.cfg.Coopguard.DryRun
	cl, err := r.st.Claim(ctx, inc, r.owner, received)
	switch {
	case errors.Is(err, store.ErrBusy):
		// Holding this delivery would only hold a Cloud Run instance:
		// acknowledge it, with what the holder has done so far.
		logger.FromContext(ctx).Info("duplicate delivery acknowledged: another responder holds the incident",
			"incident", inc.ID, "holder", holderOf(cl.Record))
		if cl.Record == nil {
			return &incident.Report{Incident: inc, ReceivedAt: received, Outcome: store.StateClaimed, Actions: []incident.ActionResult{}}, nil
		}
		rep := cl.Record.View()
		return &rep, nil
	case err != nil:
		return nil, err
	case !cl.Taken:
		rep := cl.Record.View()
		return &rep, nil
	}
	// The response outlives a delivery whose caller gave up: its
	// outcomes are committed as they come.
	return r.respond(context.WithoutCancel(ctx), inc, cl.Record)
}

// holderOf names the lease holder of rec, for logs.
func holderOf(rec *store.Record) string {
	if rec == nil {
		return ""
	}
	return rec.Owner
}

func (r *Responder) respond(ctx context.Context, inc incident.Incident, claimed *store.Record) (*incident.Report, error) {
	log := logger.FromContext(ctx).With("incident", inc.ID, "playbook", inc.Playbook)
	rep := &incident.Report{Incident: inc, ReceivedAt: claimed.ReceivedAt, Actions: []incident.ActionResult{}}
	if claimed.Claims > 1 {
		log.Info("resuming incident", "claims", claimed.Claims, "committed", len(claimed.Actions))
	}

	plan, err := playbook.For(inc.Playbook)
	if err != nil {
		return r.refuse(ctx, rep, err.Error())
	}
	start := time.Now()
	inst, account, reason, err := r.resolve(ctx, inc)
	project := cmp.Or(inc.Project, r.cfg.Cloud.GCP.Project)
	key := sandboxKey(r.cfg, project, inst.GetName())
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
	// The acting mark (this incident's document) and the VM's lease
	// (another document) are independent writes: made at once.
	var actErr error
	acted := make(chan struct{})
	go func() {
		defer close(acted)
		actErr = r.st.Acting(ctx, inc.ID, r.owner, inst.GetName())
	}()
	// Later events about this sandbox are appended to this incident while
	// it is open (see Append): marked off the actions' path.
	if marks(inc) {
		marked := make(chan struct{})
		defer func() { <-marked }()
		go func() {
			defer close(marked)
			account := account
			for _, sa := range inst.GetServiceAccounts() {
				account = cmp.Or(account, sa.GetEmail())
			}
			if err := r.st.MarkOpen(ctx, key, sandboxKey(r.cfg, project, strconv.FormatUint(inst.GetId(), 10)), inc.ID, account); err != nil {
				log.Warn("later events about this sandbox will be answered as new incidents", "error", err)
			}
		}()
	}

	// One response acts on a VM at a time, across instances, so two
	// incidents do not race each other's fingerprints: the second finds
	// the first's work done.
	t0 := time.Now()
	lockOwner := r.owner + "/" + inc.ID // per response: two incidents in one process exclude each other too
	unlock, waited, err := r.st.LockInstance(ctx, key, lockOwner, inc.ID)
	locked := time.Since(t0)
	<-acted
	if err != nil {
		return nil, err
	}
	defer unlock(ctx)
	if actErr != nil {
		return nil, actErr
	}
	if waited {
		// Another incident on this instance just finished: act on what it
		// left, not on what we read before waiting.
		if fresh, err := r.getInstance(ctx, project, inst.GetName()); err == nil {
			inst = fresh
		}
	}
	resolved += locked
	t := &actions.Target{
		Project:          project,
		Home:             r.cfg.Cloud.GCP.Project,
		Zone:             r.cfg.Cloud.GCP.Zone,
		Instance:         inst,
		Incident:         inc,
		Secrets:          r.cfg.SandboxSecrets(inst.GetName()),
		Workspace:        r.cfg.SandboxWorkspace(inst.GetName()),
		DryRun:           inc.DryRun,
		AgentStopTimeout: r.cfg.Coopguard.AgentStopTimeout.Duration,
		LogWindow:        30 * time.Minute,
		NATLogs:          r.cfg.Coopguard.Evidence.NATLogs,
		Now:              r.now,
		Revoker:          r.revoker,
		LogReads:         r.takeLogRead,
		ServiceAccount:   cmp.Or(account, sandboxAccount(r.cfg, inst.GetName())),
	}
	commit := func(res ...incident.ActionResult) error { return r.st.CommitAction(ctx, inc.ID, r.owner, res...) }
	results, excerpt, critical, err := execute(ctx, r.c, r.policy, plan, t, claimed.Actions, commit, r.guard(lockOwner, inc.ID, key))
	if errors.Is(err, store.ErrLeaseLost) {
		// Another responder took over (ours expired): it writes the report.
		return nil, fmt.Errorf("%w: %w", ErrInProgress, err)
	}
	rep.Actions, rep.Evidence = results, excerpt
	rep.CriticalPathSeconds = (resolved + critical).Seconds()
	rep.ContainmentSeconds = containmentSeconds(plan, rep)
	rep.Outcome = incident.OutcomeContained
	switch {
	case inc.DryRun:
		rep.Outcome = incident.OutcomeDryRun
	case inc.Playbook == incident.PlaybookNotify:
		rep.Outcome = incident.OutcomeNotified
	}
	var runErr error
	if rep.Failed() || err != nil {
		rep.Outcome = incident.OutcomeIncomplete
		runErr = fmt.Errorf("%w: %s", ErrIncomplete, errors.Join(errors.New(failures(rep)), err))
	}
	if runErr == nil && len(plan.FollowUp) > 0 {
		if inc.DryRun {
			// A dry run waits for nothing: its follow-up says what it would
			// do, now.
			t.Prior = indexResults(results)
			more, ev, _, _ := execute(ctx, r.c, r.policy, playbook.Plan{Steps: plan.FollowUp}, t, claimed.Actions, commit, nil)
			rep.Actions = append(rep.Actions, more...)
			rep.Evidence = firstEvidence(ev, rep.Evidence)
		} else {
			rep.FollowUp = incident.FollowUpRunning
			rep.Actions = append(rep.Actions, pendingFollowUp(plan)...)
		}
	}
	return r.finish(ctx, rep, runErr)
}

// containmentSeconds is the time from receipt until the last of the
// plan's holding steps ended (all its steps when none holds): the moment
// egress, key and stop request held, not the end of a courtesy.
func containmentSeconds(plan playbook.Plan, rep *incident.Report) float64 {
	holds := map[string]bool{}
	for _, s := range plan.Steps {
		if s.Holds {
			holds[s.Action] = true
		}
	}
	last := rep.ReceivedAt
	for _, a := range rep.Actions {
		if (len(holds) == 0 || holds[a.Action]) && a.End.After(last) {
			last = a.End
		}
	}
	return max(0, last.Sub(rep.ReceivedAt).Seconds())
}

// pendingFollowUp is the follow-up's steps as a report shows them before
// its first look.
func pendingFollowUp(plan playbook.Plan) []incident.ActionResult {
	out := make([]incident.ActionResult, 0, len(plan.FollowUp))
	for _, s := range plan.FollowUp {
		out = append(out, incident.ActionResult{Action: s.Action, Result: incident.ResultPending, Detail: "follow-up: not looked at yet"})
	}
	return out
}

// indexResults maps results by action.
func indexResults(results []incident.ActionResult) map[string]incident.ActionResult {
	out := make(map[string]incident.ActionResult, len(results))
	for _, r := range results {
		out[r.Action] = r
	}
	return out
}

// firstEvidence returns the first non-nil evidence.
func firstEvidence(ev ...*incident.Evidence) *incident.Evidence {
	for _, e := range ev {
		if e != nil {
			return e
		}
	}
	return nil
}

// secretsLock names the lease of one sandbox's managed secrets
// (config.SandboxSecrets): one action at a time changes them, so that a
// containment and a restore of the same sandbox do not interleave. Each
// sandbox has its own secrets and so its own lease: one sandbox's
// incidents never wait for another's. (':' is not valid in a VM name, so
// it never names an instance's lease.)
func secretsLock(sandbox string) string { return "coopguard:managed-secrets:" + sandbox }

// guard holds sandbox's managed secrets' lease around the actions that
// change them.
func (r *Responder) guard(owner, incidentID, sandbox string) func(ctx context.Context, action string) (func(), error) {
	return func(ctx context.Context, action string) (func(), error) {
		if action != "disable-secrets" && action != "enable-secrets" {
			return func() {}, nil
		}
		// One waiter per process and sandbox polls the store; the others
		// queue here.
		mu := r.secretsMu(sandbox)
		mu.Lock()
		release, _, err := r.st.LockInstance(ctx, secretsLock(sandbox), owner, incidentID)
		if err != nil {
			mu.Unlock()
			return nil, err
		}
		return func() { release(context.WithoutCancel(ctx)); mu.Unlock() }, nil
	}
}

// secretsMu is the process's mutex for sandbox's managed secrets.
func (r *Responder) secretsMu(sandbox string) *sync.Mutex {
	mu, _ := r.secretsMus.LoadOrStore(sandbox, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// refuse records a refusal: nothing was done, and redelivery will not help.
func (r *Responder) refuse(ctx context.Context, rep *incident.Report, reason string) (*incident.Report, error) {
	rep.Outcome, rep.Reason = incident.OutcomeRefused, reason
	return r.finish(ctx, rep, nil)
}

// finish timestamps the report and records it in the store (the record:
// its failure is returned, so the event is redelivered), then sends the
// copies to Cloud Logging, the topic and the metric.
func (r *Responder) finish(ctx context.Context, rep *incident.Report, runErr error) (*incident.Report, error) {
	rep.FinishedAt = r.now()
	if err := r.st.Finish(ctx, rep.Incident.ID, r.owner, rep); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			return nil, fmt.Errorf("%w: %w", ErrInProgress, err)
		}
		return rep, errors.Join(runErr, err)
	}
	r.copyReport(ctx, rep)
	logger.FromContext(ctx).Log(ctx, severityLevel(rep.Severity()), "incident "+rep.Outcome,
		"incident", rep.Incident.ID, "instance", rep.Instance, "outcome", rep.Outcome, "containmentSeconds", rep.ContainmentSeconds)
	return rep, runErr
}

// copyReport sends the report to Cloud Logging, the incidents topic and
// the metric for people and SIEMs. Nothing is read back from them, so a
// failure is logged, not returned.
func (r *Responder) copyReport(ctx context.Context, rep *incident.Report) {
	if r.rec == nil {
		return
	}
	if err := retry.Do(ctx, r.policy, func(ctx context.Context) error { return r.rec.Record(ctx, rep) }); err != nil {
		logger.FromContext(ctx).Warn("incident report not copied to Cloud Logging (the store has it)", "incident", rep.Incident.ID, "error", err)
	}
}

// resolve finds the incident's instance and checks that coopguard may act
// on it. A non-empty reason means refuse. An incident about another
// project than coopguard's own acts only on a sandbox the trusted registry
// records there, by the instance id HandleLogEntry found in it; account
// is that sandbox's own account as the registry has it ("" for the
// configured project: sandboxAccount derives it).
func (r *Responder) resolve(ctx context.Context, inc incident.Incident) (inst *computepb.Instance, account, reason string, err error) {
	g := r.cfg.Cloud.GCP
	project := cmp.Or(inc.Project, g.Project)
	if inc.Zone != "" && inc.Zone != g.Zone {
		return nil, "", fmt.Sprintf("incident is about zone %q; the sandbox is in %q", inc.Zone, g.Zone), nil
	}
	if inc.InstanceID != "" {
		if _, perr := strconv.ParseUint(inc.InstanceID, 10, 64); perr != nil {
			return nil, "", fmt.Sprintf("instance id %q is not numeric", inc.InstanceID), nil
		}
	}
	if project != g.Project {
		reg, why, err := r.registered(ctx, project, func(s store.Registered) bool { return inc.InstanceID != "" && s.InstanceID == inc.InstanceID })
		if why != "" || err != nil {
			return nil, "", why, err
		}
		inst, err = r.findByID(ctx, project, inc.InstanceID)
		if err == nil && inst != nil && inst.GetName() != reg.Name {
			return nil, "", fmt.Sprintf("instance %s in %s is not sandbox %s the registry records with id %s", inst.GetName(), project, reg.Name, inc.InstanceID), nil
		}
		account = reg.ServiceAccount
	} else if inc.InstanceID != "" {
		inst, err = r.findByID(ctx, project, inc.InstanceID)
	} else {
		// A log entry about the project (not a VM) concerns the configured
		// sandbox, whose service account or secret it names.
		inst, err = r.getInstance(ctx, project, r.cfg.VM.Name)
		if retry.IsNotFound(err) {
			inst, err = nil, nil
		}
	}
	if err != nil {
		return nil, "", "", err
	}
	if inst == nil {
		return nil, "", fmt.Sprintf("no instance %s in %s/%s", firstNonEmpty(inc.InstanceID, r.cfg.VM.Name), project, g.Zone), nil
	}
	if inst.GetLabels()[config.SandboxLabel] == "" {
		return nil, "", fmt.Sprintf("instance %s (id %d) has no %s label: coopguard acts only on sandboxes it provisioned", inst.GetName(), inst.GetId(), config.SandboxLabel), nil
	}
	return inst, account, "", nil
}

// registered returns the sandbox the registry records in project (never
// coopguard's own) that is, and a reason to refuse when there is none:
// coopguard acts in another project only on sandboxes it built or
// adopted there.
func (r *Responder) registered(ctx context.Context, project string, is func(store.Registered) bool) (store.Registered, string, error) {
	if r.st == nil {
		return store.Registered{}, fmt.Sprintf("incident is about project %q, not coopguard's %q, and no sandbox registry is configured", project, r.cfg.Cloud.GCP.Project), nil
	}
	in, err := r.st.SandboxesIn(ctx, project)
	if err != nil {
		return store.Registered{}, "", err
	}
	for _, s := range in {
		if is(s) && s.Zone == r.cfg.Cloud.GCP.Zone {
			return s, "", nil
		}
	}
	return store.Registered{}, fmt.Sprintf("incident is about project %q; the sandbox registry records no such sandbox there: coopguard acts only on sandboxes it provisioned", project), nil
}

// sandboxKey addresses the sandbox named (or numbered) name in project in
// the store's per-sandbox documents (instance leases, open-incident
// marks): the bare name in coopguard's own project, as always, and
// "<project>~<name>" in any other ('~' is in neither a project id nor an
// instance name), so that same-named sandboxes of two projects never
// share a lease or an open incident.
func sandboxKey(cfg *config.Config, project, name string) string {
	if project == "" || project == cfg.Cloud.GCP.Project || name == "" {
		return name
	}
	return project + "~" + name
}

// SandboxKey is sandboxKey for HandleLogEntry's appends.
func (r *Responder) SandboxKey(project, name string) string { return sandboxKey(r.cfg, project, name) }

func (r *Responder) getInstance(ctx context.Context, project, name string) (*computepb.Instance, error) {
	var inst *computepb.Instance
	err := retry.Do(ctx, r.policy, func(ctx context.Context) error {
		var err error
		inst, err = r.c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: r.cfg.Cloud.GCP.Zone, Instance: name})
		return err
	})
	return inst, err
}

// findByID finds the instance with the numeric id in project's configured
// zone.
func (r *Responder) findByID(ctx context.Context, project, id string) (*computepb.Instance, error) {
	var found *computepb.Instance
	err := retry.Do(ctx, r.policy, func(ctx context.Context) error {
		found = nil
		it := r.c.Instances.List(ctx, &computepb.ListInstancesRequest{
			Project: project, Zone: r.cfg.Cloud.GCP.Zone, Filter: proto.String("id = " + id),
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
