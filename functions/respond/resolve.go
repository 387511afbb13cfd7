package respond

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/report"
)

// ErrRefused is returned by Resolve when it will not act; the message says
// why and what to do instead.
var ErrRefused = errors.New("resolve refused")

// ResolveOptions are the choices of `coopguard resolve`.
type ResolveOptions struct {
	// Restore undoes the containment: re-enable the versions the incident
	// disabled, clear the agent-stop flag and the quarantine tag, start
	// the VM.
	Restore bool
	// By names who resolved it.
	By string
	// DryRun reports what would be undone and changes nothing.
	DryRun bool
}

// Resolve closes an incident as a false positive and records it in the
// incident's report. With Restore it undoes the containment. It refuses an
// id coopguard has no report of, and a restore after a rotation (a newer
// secret version than the incident): the disabled key must then stay
// disabled.
func (r *Responder) Resolve(ctx context.Context, id string, o ResolveOptions) (*incident.Report, error) {
	if r.rec == nil {
		return nil, errors.New("resolve needs the incident reports, and this responder has no recorder")
	}
	prev, err := r.rec.Get(ctx, id)
	if errors.Is(err, report.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q is not a coopguard incident (see coopguard incidents for the ids)", ErrRefused, id)
	}
	if err != nil {
		return nil, err
	}
	if prev.Outcome == incident.OutcomeResolved {
		return prev, nil
	}
	if prev.Outcome == incident.OutcomeRefused || prev.Instance == "" {
		return nil, fmt.Errorf("%w: coopguard did not act on %s (%s), so there is nothing to resolve", ErrRefused, id, prev.Outcome)
	}
	rep := *prev
	rep.Actions = slices.Clone(prev.Actions)
	rep.Outcome, rep.ResolvedBy, rep.ResolvedAt = incident.OutcomeResolved, o.By, r.now()
	if rep.ResolvedBy == "" {
		rep.ResolvedBy = "unknown"
	}
	if !o.Restore {
		if o.DryRun {
			return &rep, nil
		}
		r.Forget(id)
		return &rep, r.rec.Record(ctx, &rep)
	}

	inst, err := r.getInstance(ctx, prev.Instance)
	if err != nil {
		return nil, fmt.Errorf("read instance %s: %w", prev.Instance, err)
	}
	if inst.GetLabels()[config.SandboxLabel] == "" {
		return nil, fmt.Errorf("%w: instance %s has no %s label", ErrRefused, inst.GetName(), config.SandboxLabel)
	}
	if newer, err := r.versionSince(ctx, prev.ReceivedAt); err != nil {
		return nil, err
	} else if newer != "" {
		return nil, fmt.Errorf("%w: a rotation has happened since the incident (%s is newer): the disabled versions stay disabled; resolve without --restore and start the VM yourself", ErrRefused, newer)
	}
	var restore []string
	for _, a := range prev.Actions {
		if a.Action == "disable-secrets" {
			restore = append(restore, a.Changed...)
		}
	}
	t := &actions.Target{
		Project: r.cfg.Cloud.GCP.Project, Zone: r.cfg.Cloud.GCP.Zone, Instance: inst, Incident: prev.Incident,
		Secrets: r.cfg.Coopguard.Secrets, DryRun: o.DryRun, Now: r.now, Restore: restore,
	}
	l := r.instanceLock(inst.GetName())
	l.Lock()
	defer l.Unlock()
	results, _, _ := execute(ctx, r.c, r.policy, playbook.Restore(), t)
	rep.Actions = append(rep.Actions, results...)
	for _, a := range results {
		if a.Result == incident.ResultFailed {
			rep.Outcome = incident.OutcomeIncomplete
			rep.Reason = "restore incomplete: run coopguard resolve --restore again"
		}
	}
	if o.DryRun {
		return &rep, nil
	}
	r.Forget(id)
	if err := r.rec.Record(ctx, &rep); err != nil {
		return &rep, err
	}
	if rep.Outcome == incident.OutcomeIncomplete {
		return &rep, fmt.Errorf("%w: %s", ErrIncomplete, failures(&rep))
	}
	return &rep, nil
}

// versionSince returns the name of a managed secret version created after
// t, or "".
func (r *Responder) versionSince(ctx context.Context, t time.Time) (string, error) {
	for _, id := range r.cfg.Coopguard.Secrets {
		it := r.c.Secrets.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{
			Parent: "projects/" + r.cfg.Cloud.GCP.Project + "/secrets/" + id, PageSize: 50,
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
