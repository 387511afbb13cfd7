package respond

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/store"
)

// ErrRefused is returned by Resolve when it will not act; the message says
// why and what to do instead.
var ErrRefused = errors.New("resolve refused")

// ResolveOptions are the choices of `coopguard resolve`.
type ResolveOptions struct {
	// Restore undoes the containment: exactly what the incident's own
	// actions recorded changing (the versions it disabled, the flag, tag
	// and label it set, the VM it stopped).
	Restore bool
	// By is who resolved it: the verified caller, set by the server from
	// the request's identity, never from its body.
	By string
	// DryRun reports what would be undone and changes nothing.
	DryRun bool
	// Note is the incident's cause as the operator found it
	// (Report.Explanation): what `coopguard resume` asks for. It may be
	// added to an incident already resolved.
	Note string
}

// undoes maps each restore action to the containment action it undoes: a
// restore step runs only if that action changed something.
var undoes = map[string]string{
	"enable-secrets":        "disable-secrets",
	"clear-agents-flag":     "stop-agents",
	"remove-quarantine-tag": "quarantine-tag",
	"clear-incident-label":  "label-incident",
	"start-vm":              "stop-vm",
	"enable-identity":       "disable-identity",
}

// Resolve closes an incident as a false positive and records it in the
// incident store. Everything it decides on comes from the store, never
// from Cloud Logging. With Restore it undoes exactly what the incident's
// own actions recorded changing. It refuses an id the store does not hold,
// an incident still being handled, a restore of an incident coopguard did
// not contain (notify, dry-run, refused, posture drift), a restore while
// another incident is open on the same VM, and a restore after a rotation
// (a newer secret version than the incident: the disabled key stays
// disabled), and a restore of an incident whose key was revoked at its
// provider before a rotation (after one, the rest is restored and the
// versions holding the revoked key stay disabled).
func (r *Responder) Resolve(ctx context.Context, id string, o ResolveOptions) (*incident.Report, error) {
	if r.st == nil {
		return nil, ErrNoStore
	}
	if o.By == "" {
		return nil, errors.New("resolve: the caller's identity is required")
	}
	prev, owner, unlease, err := r.lease(ctx, id, "resolve")
	if err != nil {
		return nil, err
	}
	recorded := false
	defer func() { unlease(recorded) }()
	view := prev.View()
	switch prev.State {
	case incident.OutcomeResolved:
		if o.Note == "" || o.Note == view.Explanation || o.DryRun {
			return &view, nil
		}
		// The cause, found after the incident was closed.
		rep := view
		rep.Explanation = o.Note
		if err := r.st.Finish(ctx, id, owner, &rep); err != nil {
			return nil, err
		}
		recorded = true
		r.copyReport(ctx, &rep)
		return &rep, nil
	case store.StateClaimed, store.StateActing:
		return nil, fmt.Errorf("%w: the response to %s did not finish (%s); its redelivery completes it, then resolve", ErrRefused, id, prev.State)
	case incident.OutcomeRefused:
		return nil, fmt.Errorf("%w: coopguard did not act on %s (refused: %s), so there is nothing to resolve", ErrRefused, id, view.Reason)
	}
	if o.Restore {
		if reason := notRestorable(prev); reason != "" {
			return nil, fmt.Errorf("%w: %s: %s; resolve without --restore", ErrRefused, id, reason)
		}
	}
	rep := view
	rep.Actions = slices.Clone(view.Actions)
	rep.Outcome, rep.Reason, rep.ResolvedBy, rep.ResolvedAt = incident.OutcomeResolved, "", o.By, r.now()
	if o.Note != "" {
		rep.Explanation = o.Note
	}
	if rep.FollowUp == incident.FollowUpRunning {
		// A resolved incident is closed: its follow-up stops where it is.
		rep.FollowUp, rep.Reason = incident.FollowUpDone, "follow-up stopped by resolve"
	}
	if !o.Restore {
		if o.DryRun {
			return &rep, nil
		}
		if err := r.st.Finish(ctx, id, owner, &rep); err != nil {
			return nil, err
		}
		recorded = true
		r.copyReport(ctx, &rep)
		return &rep, nil
	}

	if open, err := r.otherOpen(ctx, prev); err != nil {
		return nil, err
	} else if open != "" {
		return nil, fmt.Errorf("%w: incident %s is still open on %s; resolve it first, or resolve %s without --restore", ErrRefused, open, prev.Instance, id)
	}
	project, account, inst, err := r.restoreSubject(ctx, prev)
	if err != nil {
		return nil, err
	}
	newer, err := r.versionSince(ctx, project, prev.Instance, prev.ReceivedAt)
	if err != nil {
		return nil, err
	}
	// A key revoked at its provider is never re-enabled: the disabled
	// versions hold it. After a rotation the VM may come back with the
	// new key; before one, there is no key to come back with.
	revoked := revokedKeys(prev)
	switch {
	case len(revoked) > 0 && newer == "":
		return nil, fmt.Errorf("%w: %s: the managed key was %s (%s) and is never re-enabled: rotate first (coopguard rotate), then restore", ErrRefused, id, actions.RevokedAtProvider, strings.Join(revoked, " "))
	case len(revoked) == 0 && newer != "":
		return nil, fmt.Errorf("%w: a rotation has happened since the incident (%s is newer): the disabled versions stay disabled; resolve without --restore and start the VM yourself", ErrRefused, newer)
	}
	t := r.restoreTarget(inst, prev, project, account, o.DryRun)
	plan := restorePlan(prev.Actions)
	if len(revoked) > 0 {
		t.Restore, plan = nil, without(plan, "enable-secrets")
	}
	key := sandboxKey(r.cfg, project, inst.GetName())
	unlock, _, err := r.st.LockInstance(ctx, key, owner, id)
	if err != nil {
		return nil, err
	}
	defer unlock(context.WithoutCancel(ctx))
	results, _, _, _ := execute(ctx, r.c, r.policy, plan, t, nil, nil, r.guard(owner, id, key))
	rep.Actions = append(rep.Actions, results...)
	if o.DryRun {
		return &rep, nil
	}
	for _, a := range results {
		if a.Result == incident.ResultFailed {
			// Not recorded: the incident stays contained, and running the
			// restore again finishes what is left.
			rep.Outcome, rep.Reason = incident.OutcomeIncomplete, "restore incomplete: run coopguard resolve --restore again"
			return &rep, fmt.Errorf("%w: %s", ErrIncomplete, failures(&rep))
		}
	}
	if err := r.st.Finish(ctx, id, owner, &rep); err != nil {
		return &rep, err
	}
	recorded = true
	r.copyReport(ctx, &rep)
	return &rep, nil
}

// lease takes incident id's lock for an operator's act ("resolve",
// "resume"): no responder or other act runs on the incident meanwhile.
// release(recorded) gives the lock back unless the act recorded its
// outcome (Finish releases it); owner is the lease's holder.
func (r *Responder) lease(ctx context.Context, id, act string) (prev *store.Record, owner string, release func(recorded bool), err error) {
	owner = act + "-" + uuid.NewString()
	prev, err = r.st.Lock(ctx, id, owner)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "", nil, fmt.Errorf("%w: %q is not a coopguard incident (see coopguard incidents for the ids)", ErrRefused, id)
	case errors.Is(err, store.ErrBusy):
		return nil, "", nil, fmt.Errorf("%w: %s is being handled right now; try again when it has finished", ErrRefused, id)
	case err != nil:
		return nil, "", nil, err
	}
	return prev, owner, func(recorded bool) {
		if recorded {
			return
		}
		if err := r.st.Unlock(context.WithoutCancel(ctx), id, owner); err != nil {
			logger.FromContext(ctx).Warn("incident lock not released (it expires)", "incident", id, "error", err)
		}
	}, nil
}

// restoreTarget is what a restore of prev acts on: inst, with the
// sandbox's secrets, account and the incident's own recorded actions.
func (r *Responder) restoreTarget(inst *computepb.Instance, prev *store.Record, project, account string, dryRun bool) *actions.Target {
	return &actions.Target{
		Project: project, Home: r.cfg.Cloud.GCP.Project, Zone: r.cfg.Cloud.GCP.Zone, Instance: inst, Incident: prev.Incident,
		Secrets: r.cfg.SandboxSecrets(inst.GetName()), Workspace: r.cfg.SandboxWorkspace(inst.GetName()), DryRun: dryRun, Now: r.now, Restore: prev.Actions["disable-secrets"].Changed,
		ServiceAccount: account, Prior: prev.Actions,
	}
}

// restoreSubject is the sandbox a restore (or resume) of prev acts on:
// the project the containment resolved and recorded and, in any project
// but coopguard's own, the sandbox the registry still holds there, whose
// account is the one given back; and its VM, which must carry the
// sandbox label.
func (r *Responder) restoreSubject(ctx context.Context, prev *store.Record) (project, account string, inst *computepb.Instance, err error) {
	project = cmp.Or(prev.Incident.Project, r.cfg.Cloud.GCP.Project)
	account = sandboxAccount(r.cfg, prev.Instance)
	if project != r.cfg.Cloud.GCP.Project {
		reg, why, err := r.registered(ctx, project, func(s store.Registered) bool { return s.Name == prev.Instance })
		if err != nil {
			return "", "", nil, err
		}
		if why != "" {
			return "", "", nil, fmt.Errorf("%w: %s", ErrRefused, why)
		}
		account = reg.ServiceAccount
	}
	inst, err = r.getInstance(ctx, project, prev.Instance)
	if err != nil {
		return "", "", nil, fmt.Errorf("read instance %s: %w", prev.Instance, err)
	}
	if inst.GetLabels()[config.SandboxLabel] == "" {
		return "", "", nil, fmt.Errorf("%w: instance %s has no %s label", ErrRefused, inst.GetName(), config.SandboxLabel)
	}
	return project, account, inst, nil
}

// notRestorable says why an incident's containment cannot be "restored",
// or "".
func notRestorable(rec *store.Record) string {
	switch {
	case rec.Incident.Source == incident.SourcePosture:
		return "it is a posture-drift report; coopguard changed nothing"
	case rec.State == incident.OutcomeNotified || rec.Incident.Playbook == incident.PlaybookNotify:
		return "it ran the notify playbook; coopguard changed nothing"
	case rec.State == incident.OutcomeDryRun || rec.Incident.DryRun:
		return "it was a dry run; coopguard changed nothing"
	case rec.Instance == "":
		return "coopguard acted on no instance"
	}
	return ""
}

// otherOpen returns the id of another incident on the same VM that is not
// closed (claimed, acting, contained, complete or incomplete), or "".
func (r *Responder) otherOpen(ctx context.Context, rec *store.Record) (string, error) {
	others, err := r.st.OnInstance(ctx, rec.Instance)
	if err != nil {
		return "", err
	}
	home := r.cfg.Cloud.GCP.Project
	for _, o := range others {
		if o.ID == rec.ID || cmp.Or(o.Incident.Project, home) != cmp.Or(rec.Incident.Project, home) {
			continue // itself, or a same-named sandbox of another project
		}
		if o.Open() {
			return o.ID, nil
		}
	}
	return "", nil
}

// restorePlan is the restore playbook cut down to the steps that undo an
// action this incident recorded changing something.
func restorePlan(done map[string]incident.ActionResult) playbook.Plan {
	full := playbook.Restore()
	keep := map[string]bool{}
	for _, s := range full.Steps {
		a := done[undoes[s.Action]]
		keep[s.Action] = a.Result == incident.ResultDone || len(a.Changed) > 0
	}
	plan := playbook.Plan{Playbook: full.Playbook}
	for _, s := range full.Steps {
		if !keep[s.Action] {
			continue
		}
		var after []string
		for _, dep := range s.After {
			if keep[dep] {
				after = append(after, dep)
			}
		}
		plan.Steps = append(plan.Steps, playbook.Step{Action: s.Action, After: after})
	}
	return plan
}

// revokedKeys lists the keys the incident's revoke-key action revoked at
// the provider, or found revoked there already.
func revokedKeys(rec *store.Record) []string {
	a := rec.Actions["revoke-key"]
	switch {
	case len(a.Changed) > 0:
		return slices.Clone(a.Changed)
	case strings.HasPrefix(a.Detail, actions.RevokedAtProvider):
		return []string{"already revoked at the provider"}
	}
	return nil
}

// without is plan less the step named action (and any "after" on it).
func without(plan playbook.Plan, action string) playbook.Plan {
	out := playbook.Plan{Playbook: plan.Playbook}
	for _, s := range plan.Steps {
		if s.Action == action {
			continue
		}
		out.Steps = append(out.Steps, playbook.Step{Action: s.Action, After: slices.DeleteFunc(slices.Clone(s.After), func(a string) bool { return a == action })})
	}
	return out
}

// versionSince returns the name of a version of sandbox's managed secrets
// (in its project) created after t, or "".
func (r *Responder) versionSince(ctx context.Context, project, sandbox string, t time.Time) (string, error) {
	for _, id := range r.cfg.SandboxSecrets(sandbox) {
		it := r.c.Secrets.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{
			Parent: "projects/" + project + "/secrets/" + id, PageSize: 50,
		})
		for {
			v, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return "", fmt.Errorf("list versions of secret %s: %w", id, err)
			}
			if v.GetCreateTime().AsTime().After(t) {
				return v.GetName(), nil
			}
		}
	}
	return "", nil
}
