package respond

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
)

// ResumeOptions are the choices of `coopguard resume`.
type ResumeOptions struct {
	// By is who resumes: the verified caller.
	By string
	// Force resumes although the incident's cause is unexplained (no
	// Report.Explanation); Reason says why, and is recorded.
	Force  bool
	Reason string
	// Rotate rotates every managed secret of sandbox: afterwards each has
	// one ENABLED version created after since and no other. It returns
	// what it did; an error means a secret was not rotated.
	Rotate func(ctx context.Context, project, sandbox string, since time.Time) ([]incident.ActionResult, error)
	// Revoker revokes the old keys at their provider; nil is this
	// Responder's own. The job that holds the provider's credential
	// (the responder) lends its own.
	Revoker revoke.Revoker
	// DryRun runs every check and reports what would be revoked, rotated
	// and restored, changing nothing (the actions read and report in
	// their dry-run mode; Rotate must honour it too).
	DryRun bool
}

// Revoker is the responder's provider revocation (nil when off).
func (r *Responder) Revoker() revoke.Revoker { return r.revoker }

// Resume is the runbook's last step and then the restore, on a contained
// incident: the sandbox's key is revoked at its provider (every key
// recorded for its secrets, before the new one exists), every managed
// secret is rotated (o.Rotate), and the containment is undone except the
// disabled versions, which stay disabled: the identity is given back and
// the VM started. The incident is then resolved, and who resumed (and,
// with Force, why) is recorded in the incident store.
//
// It refuses, changing nothing, what Resolve --restore refuses and an
// incident whose cause is unexplained: one without an Explanation
// (`coopguard resolve --note`), unless Force with a Reason. A failure
// leaves the incident as it was recorded; running Resume again finishes
// what is left (the rotation keeps the version it added). With DryRun the
// report lists what each step would do, and nothing is recorded.
func (r *Responder) Resume(ctx context.Context, id string, o ResumeOptions) (*incident.Report, error) {
	switch {
	case r.st == nil:
		return nil, ErrNoStore
	case o.By == "":
		return nil, errors.New("resume: the caller's identity is required")
	case o.Rotate == nil:
		return nil, errors.New("resume: no rotation: resume rotates every managed secret before restoring")
	case o.Force && strings.TrimSpace(o.Reason) == "":
		return nil, fmt.Errorf("%w: --force needs --reason \"why resume with the cause unexplained\": it is recorded on the incident", ErrRefused)
	}
	prev, owner, unlease, err := r.lease(ctx, id, "resume")
	if err != nil {
		return nil, err
	}
	recorded := false
	defer func() { unlease(recorded) }()
	view := prev.View()
	switch {
	case !view.ResumedAt.IsZero():
		return &view, nil
	case prev.State == store.StateClaimed || prev.State == store.StateActing:
		return nil, fmt.Errorf("%w: the response to %s did not finish (%s); its redelivery completes it, then resume", ErrRefused, id, prev.State)
	case prev.State == incident.OutcomeRefused:
		return nil, fmt.Errorf("%w: coopguard did not act on %s (refused: %s), so there is nothing to resume", ErrRefused, id, view.Reason)
	}
	if reason := notRestorable(prev); reason != "" {
		return nil, fmt.Errorf("%w: %s: %s; there is nothing to resume", ErrRefused, id, reason)
	}
	if view.Explanation == "" && !o.Force {
		return nil, fmt.Errorf("%w: the cause of %s is unexplained: find it, record it with coopguard resolve %s --note \"what caused it\", then resume; or resume --force --reason \"why\" (recorded on the incident)", ErrRefused, id, id)
	}
	if open, err := r.otherOpen(ctx, prev); err != nil {
		return nil, err
	} else if open != "" {
		return nil, fmt.Errorf("%w: incident %s is still open on %s; resume or resolve it first", ErrRefused, open, prev.Instance)
	}
	project, account, inst, err := r.restoreSubject(ctx, prev)
	if err != nil {
		return nil, err
	}
	unlock, _, err := r.st.LockInstance(ctx, sandboxKey(r.cfg, project, inst.GetName()), owner, id)
	if err != nil {
		return nil, err
	}
	defer unlock(context.WithoutCancel(ctx))

	rep := view
	rep.Actions = append([]incident.ActionResult(nil), view.Actions...)
	t := r.restoreTarget(inst, prev, project, account, o.DryRun)
	t.Revoker = r.revoker
	if o.Revoker != nil {
		t.Revoker = o.Revoker
	}
	guard := r.guard(owner, id, sandboxKey(r.cfg, project, inst.GetName()))
	fail := func(err error) (*incident.Report, error) {
		if o.DryRun {
			rep.Outcome, rep.Reason = incident.OutcomeDryRun, "dry run: resume would stop here; nothing was changed"
			return &rep, fmt.Errorf("resume would fail: %w", err)
		}
		rep.Outcome, rep.Reason = incident.OutcomeIncomplete, "resume incomplete: run coopguard resume again"
		return &rep, fmt.Errorf("%w: %w", ErrIncomplete, err)
	}

	// 1. The keys the agents may hold stop working everywhere, before a
	// new one is recorded for the same secrets.
	revoked, _, _, _ := execute(ctx, r.c, r.policy, playbook.Plan{Playbook: "resume", Steps: []playbook.Step{{Action: "revoke-key"}}}, t, nil, nil, guard)
	rep.Actions = append(rep.Actions, revoked...)
	if f := failures(&incident.Report{Actions: revoked}); f != "" {
		return fail(errors.New(f))
	}
	// 2. Every managed secret rotated, under the sandbox's secrets lock.
	release, err := guard(ctx, "disable-secrets")
	if err != nil {
		return fail(fmt.Errorf("lock the secrets of %s: %w", inst.GetName(), err))
	}
	rotated, err := o.Rotate(ctx, project, inst.GetName(), prev.ReceivedAt)
	release()
	rep.Actions = append(rep.Actions, rotated...)
	if err != nil {
		return fail(fmt.Errorf("rotate the secrets of %s: %w; nothing was restored", inst.GetName(), err))
	}
	// 3. The restore, except the disabled versions: they hold the old key.
	results, _, _, _ := execute(ctx, r.c, r.policy, without(restorePlan(prev.Actions), "enable-secrets"), t, nil, nil, guard)
	rep.Actions = append(rep.Actions, results...)
	if f := failures(&incident.Report{Actions: results}); f != "" {
		return fail(errors.New(f))
	}

	if o.DryRun {
		rep.Outcome, rep.Reason = incident.OutcomeDryRun, "dry run: nothing was changed; run coopguard resume "+id+" without --dry-run to resume"
		return &rep, nil
	}
	now := r.now()
	rep.Outcome, rep.Reason = incident.OutcomeResolved, ""
	if rep.ResolvedBy == "" {
		rep.ResolvedBy, rep.ResolvedAt = o.By, now
	}
	if rep.FollowUp == incident.FollowUpRunning {
		rep.FollowUp, rep.Reason = incident.FollowUpDone, "follow-up stopped by resume"
	}
	rep.ResumedBy, rep.ResumedAt = o.By, now
	if view.Explanation == "" {
		rep.ResumeForced = strings.TrimSpace(o.Reason)
	}
	if err := r.st.Finish(ctx, id, owner, &rep); err != nil {
		return &rep, err
	}
	recorded = true
	r.copyReport(ctx, &rep)
	return &rep, nil
}
