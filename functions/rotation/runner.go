package rotation

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// DefaultPageSize is the page size of version listings: a secret with
// many versions is read in several calls rather than one unbounded one.
const DefaultPageSize = 100

// DefaultParallel is how many secrets a run works on at once.
const DefaultParallel = 8

// Runner carries out the rotation policy on Secret Manager. It reads each
// secret's versions with paged list calls (the listing has every field the
// policy needs, so no version is fetched one by one), decides, and acts:
// add a version from the key source, disable, destroy, each with retry on
// transient errors and the listed etag, so a version changed meanwhile is
// left alone.
type Runner struct {
	// Client is the Secret Manager client.
	Client *secretmanager.Client
	// Project is the project of the managed secrets.
	Project string
	// Managed are the secret ids from config: the only ones a run touches.
	Managed []string
	// Policy is the rotation policy.
	Policy Policy
	// Source mints new keys; nil makes due secrets reported only.
	Source KeySource
	// Now is the policy's clock; nil means time.Now.
	Now func() time.Time
	// Retry is the policy for Secret Manager calls; zero means retry.Default.
	Retry retry.Policy
	// PageSize is the listing page size; zero means DefaultPageSize.
	PageSize int32
	// Parallel bounds the secrets worked on at once; zero means DefaultParallel.
	Parallel int
	// RecordKeyID, when set, records the provider's id of the key a new
	// version holds (from a KeyIDSource), so containment can revoke that
	// key at the provider without reading it.
	RecordKeyID func(ctx context.Context, secret, version, keyID string) error
	// Identity, when set, is asked before a version of secret is added
	// whether the sandbox whose key it is may read it: a note the report
	// carries (the contained identity cannot reach the new version), or
	// an error that refuses the add (an incident is open and the
	// sandbox's account is enabled: it would read the new key).
	Identity func(ctx context.Context, secret string) (note string, err error)
}

// Options select what one run does.
type Options struct {
	// Secrets limits the run to these ids; empty means every managed
	// secret. Ids that are not managed are refused, not touched.
	Secrets []string
	// DryRun reports the plan and changes nothing.
	DryRun bool
	// Trigger is recorded in the report: scheduler, secret-rotate, cli.
	Trigger string
	// Renew, when set, rotates whatever the policy says (see Renew): the
	// runbook's "rotate all credentials before resuming", with the
	// incident's time.
	Renew time.Time
}

// ErrNotManaged marks a request to rotate a secret that is not in
// coopguard.secrets.
var ErrNotManaged = errors.New("not a managed secret")

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Runner) retryPolicy() retry.Policy {
	if r.Retry.Attempts == 0 {
		return retry.Default
	}
	return r.Retry
}

// Run applies the policy to the selected secrets. The report is always
// returned; the error joins every secret's failure (each naming the
// secret and the fix) and is non-nil exactly when Report.Failed.
func (r *Runner) Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	now := r.now()
	rep := &Report{Project: r.Project, Trigger: opts.Trigger, DryRun: opts.DryRun, StartedAt: now}
	ids := opts.Secrets
	if len(ids) == 0 {
		ids = r.Managed
	}
	rep.Secrets = make([]SecretReport, len(ids))
	errs := make([]error, len(ids))
	parallel := r.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, id := range ids {
		if !slices.Contains(r.Managed, id) {
			rep.Secrets[i] = SecretReport{Secret: id, Name: r.secretName(id), Refused: "not in coopguard.secrets: coopguard never touches it", Versions: []VersionInfo{}, Actions: []incident.ActionResult{}}
			logger.FromContext(ctx).Warn("rotation refused: not a managed secret", "secret", id)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				rep.Secrets[i] = SecretReport{Secret: id, Name: r.secretName(id), Error: ctx.Err().Error(), Versions: []VersionInfo{}, Actions: []incident.ActionResult{}}
				errs[i] = fmt.Errorf("rotate secret %s: %w", id, ctx.Err())
				return
			}
			defer func() { <-sem }()
			rep.Secrets[i], errs[i] = r.runSecret(ctx, id, now, opts)
		}()
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	return rep, errors.Join(errs...)
}

func (r *Runner) secretName(id string) string {
	return "projects/" + r.Project + "/secrets/" + id
}

// runSecret is one secret's run: list, decide, act. Actions run in the
// order add → disable → destroy, and a failed add stops the rest: nothing
// is taken away from a secret whose new key could not be stored.
func (r *Runner) runSecret(ctx context.Context, id string, now time.Time, opts Options) (SecretReport, error) {
	dryRun := opts.DryRun
	log := logger.FromContext(ctx).With("secret", id)
	sr := SecretReport{Secret: id, Name: r.secretName(id), Versions: []VersionInfo{}, Actions: []incident.ActionResult{}}
	vs, err := r.List(ctx, id)
	if retry.IsNotFound(err) {
		sr.Missing = true
		log.Warn("rotation: managed secret does not exist: run coopguard provision to create it")
		return sr, nil
	}
	if err != nil {
		sr.Error = err.Error()
		return sr, err
	}
	plan := Decide(vs, now, r.Policy)
	if !opts.Renew.IsZero() {
		plan = Renew(plan, opts.Renew, r.Source != nil)
	}
	sr.Versions = versionInfos(plan.Versions, now)
	sr.Due, sr.DueReason, sr.NextRotation, sr.NotAdded = plan.Due, plan.DueReason, plan.NextRotation, plan.NotAdded
	if plan.AddVersion && r.Source == nil {
		// Policy.KeySource says a source is configured but none was wired.
		plan.AddVersion = false
		sr.NotAdded = "no key source configured: add a new version by hand, or set coopguard.rotation.key_source_url"
	}
	if err := checkPlan(plan); err != nil {
		sr.Error = err.Error()
		return sr, fmt.Errorf("rotate secret %s: %w", id, err)
	}

	if plan.AddVersion && r.Identity != nil {
		note, err := r.Identity(ctx, id)
		if err != nil {
			// Nothing is taken away either: the old versions stay as they are.
			sr.NotAdded, sr.Error = err.Error(), err.Error()
			return sr, fmt.Errorf("rotate secret %s: %w", id, err)
		}
		sr.Identity = note
	}
	var errs []error
	stop := false
	if plan.AddVersion {
		a, err := r.addVersion(ctx, id, plan, dryRun)
		sr.Actions = append(sr.Actions, a)
		if err != nil {
			errs = append(errs, err)
			stop = true
		}
	}
	// The etag each version has now: a disable renews it, and the
	// destroy that follows must carry the new one.
	etags := map[string]string{}
	for _, v := range plan.Disable {
		if stop {
			sr.Actions = append(sr.Actions, skipped(ActionDisableVersion, v.Name, "the new version could not be added; nothing is disabled until it is"))
			continue
		}
		a, etag, err := r.change(ctx, ActionDisableVersion, v, dryRun)
		sr.Actions = append(sr.Actions, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("rotate secret %s: %w", id, err))
			continue
		}
		etags[v.Name] = etag
	}
	for _, v := range plan.Destroy {
		if stop {
			sr.Actions = append(sr.Actions, skipped(ActionDestroyVersion, v.Name, "the new version could not be added; nothing is destroyed until it is"))
			continue
		}
		if e, ok := etags[v.Name]; ok {
			v.Etag = e
		} else if slices.ContainsFunc(plan.Disable, func(d Version) bool { return d.Name == v.Name }) {
			sr.Actions = append(sr.Actions, skipped(ActionDestroyVersion, v.Name, "its disable failed"))
			continue
		}
		a, _, err := r.change(ctx, ActionDestroyVersion, v, dryRun)
		sr.Actions = append(sr.Actions, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("rotate secret %s: %w", id, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		sr.Error = errs[0].Error()
		return sr, err
	}
	return sr, nil
}

// checkPlan is the last guard before acting: a plan that would leave a
// secret with ENABLED versions without any is a bug, and is refused.
func checkPlan(p Plan) error {
	enabled := 0
	for _, v := range p.Versions {
		if v.State == StateEnabled {
			enabled++
		}
	}
	gone := map[string]bool{}
	for _, v := range slices.Concat(p.Disable, p.Destroy) {
		if v.State == StateEnabled {
			gone[v.Name] = true
		}
	}
	// A plan adding a version may take every older one away (Renew): a
	// failed add stops the rest.
	if enabled > 0 && len(gone) >= enabled && !p.AddVersion {
		return errors.New("refused: the plan would leave no ENABLED version (a coopguard bug; please report it)")
	}
	return nil
}

func skipped(action, target, reason string) incident.ActionResult {
	now := time.Now()
	return incident.ActionResult{Action: action, Target: target, Result: incident.ResultSkipped, Reason: reason, Start: now, End: now}
}

// change disables or destroys one version with its etag, returning the
// version's new etag.
func (r *Runner) change(ctx context.Context, action string, v Version, dryRun bool) (incident.ActionResult, string, error) {
	a := incident.ActionResult{Action: action, Target: v.Name, Start: time.Now()}
	finish := func(result, reason string) incident.ActionResult {
		a.Result, a.Reason, a.End = result, reason, time.Now()
		a.Seconds = a.End.Sub(a.Start).Seconds()
		return a
	}
	if dryRun {
		return finish(incident.ResultDryRun, ""), v.Etag, nil
	}
	var got *secretmanagerpb.SecretVersion
	err := retry.Do(ctx, r.retryPolicy(), func(ctx context.Context) error {
		var err error
		switch action {
		case ActionDisableVersion:
			got, err = r.Client.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: v.Name, Etag: v.Etag})
		default:
			got, err = r.Client.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: v.Name, Etag: v.Etag})
		}
		return err
	})
	verb := map[string]string{ActionDisableVersion: "disable", ActionDestroyVersion: "destroy"}[action]
	switch {
	case err == nil:
		a.Detail = got.GetState().String()
		return finish(incident.ResultDone, ""), got.GetEtag(), nil
	case retry.IsPrecondition(err):
		// The etag no longer matches: someone changed the version since
		// the listing. The next run re-reads and decides again.
		err = fmt.Errorf("%s version %d: it changed since it was listed (%w); the redelivered run re-reads it", verb, v.Number, err)
	default:
		err = fmt.Errorf("%s version %d: %w (coopguard needs roles/secretmanager.secretVersionManager on the secret)", verb, v.Number, err)
	}
	return finish(incident.ResultFailed, err.Error()), "", err
}

// addVersion mints a key and stores it as a new version. The key is zeroed
// as soon as Secret Manager has it; it is never logged or reported.
func (r *Runner) addVersion(ctx context.Context, id string, plan Plan, dryRun bool) (incident.ActionResult, error) {
	a := incident.ActionResult{Action: ActionAddVersion, Target: r.secretName(id), Start: time.Now()}
	finish := func(result, reason string) incident.ActionResult {
		a.Result, a.Reason, a.End = result, reason, time.Now()
		a.Seconds = a.End.Sub(a.Start).Seconds()
		return a
	}
	if dryRun {
		return finish(incident.ResultDryRun, ""), nil
	}
	replaced := int64(0)
	switch {
	case plan.NewestEnabled >= 0:
		replaced = plan.Versions[plan.NewestEnabled].Number
	case len(plan.Versions) > 0:
		// Every version is disabled (Renew after a containment): the
		// new key replaces the newest, not "no version", which a key
		// source may have answered once already.
		replaced = plan.Versions[0].Number
	}
	kreq := KeyRequest{
		Project:        r.Project,
		Secret:         id,
		IdempotencyKey: r.Project + "/" + id + "/after-" + strconv.FormatInt(replaced, 10),
	}
	var key []byte
	var keyID string
	var err error
	if src, ok := r.Source.(KeyIDSource); ok {
		key, keyID, err = src.NewKeyWithID(ctx, kreq)
	} else {
		key, err = r.Source.NewKey(ctx, kreq)
	}
	if err != nil {
		clear(key)
		err = fmt.Errorf("rotate secret %s: mint a new key: %w", id, err)
		return finish(incident.ResultFailed, err.Error()), err
	}
	defer clear(key) // the request below shares this backing array
	crc := int64(crc32.Checksum(key, crc32.MakeTable(crc32.Castagnoli)))
	var got *secretmanagerpb.SecretVersion
	err = retry.Do(ctx, r.retryPolicy(), func(ctx context.Context) error {
		var err error
		got, err = r.Client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
			Parent:  r.secretName(id),
			Payload: &secretmanagerpb.SecretPayload{Data: key, DataCrc32C: &crc},
		})
		return err
	})
	if err != nil {
		err = fmt.Errorf("rotate secret %s: store the new key as a version: %w (coopguard needs roles/secretmanager.secretVersionAdder on it)", id, err)
		return finish(incident.ResultFailed, err.Error()), err
	}
	a.Target = got.GetName()
	version := strconv.FormatInt(VersionNumber(got.GetName()), 10)
	a.Detail = "added version " + version
	logger.FromContext(ctx).Log(ctx, slog.LevelInfo, "rotation: new version added", "secret", id, "version", got.GetName())
	if r.RecordKeyID != nil {
		// The version exists: a failure to record its key's id is
		// reported (posture names the version), not retried by minting
		// another key.
		switch rerr := r.recordKeyID(ctx, id, version, keyID); {
		case keyID == "":
			a.Detail += "; the key source told no key_id: revocation cannot name this key to the provider"
		case rerr != nil:
			a.Detail += "; its key id was not recorded: " + rerr.Error()
			logger.FromContext(ctx).Warn("rotation: key id not recorded", "secret", id, "version", version, "error", rerr)
		default:
			a.Detail += " (key " + keyID + ")"
		}
	}
	return finish(incident.ResultDone, ""), nil
}

// recordKeyID records keyID for the version, retrying transient failures.
func (r *Runner) recordKeyID(ctx context.Context, secret, version, keyID string) error {
	if keyID == "" {
		return nil
	}
	return retry.Do(ctx, r.retryPolicy(), func(ctx context.Context) error { return r.RecordKeyID(ctx, secret, version, keyID) })
}
