package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/functions/rotation"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
)

// RotateKeysJob is the coopguard-job attribute value of the Cloud Scheduler
// job (and of `coopguard rotate` against a server) that triggers RotateKeys.
const RotateKeysJob = config.SchedulerRotateKeys

// SecretRotateEvent is the Secret Manager notification that asks for a
// rotation; every other event type on the topic is acknowledged and ignored.
const SecretRotateEvent = "SECRET_ROTATE"

// RotationDueMetric is the gauge written (value 1, label secret) for each
// secret a run finds due.
const RotationDueMetric = provisioner.RotationDueMetric

// RotationDueType is the "type" attribute of the rotation-due record on the
// incidents topic.
const RotationDueType = "rotation-due"

// RotateRequest is the JSON body of the Scheduler job's message: the
// Scheduler sample sends {"reason": "scheduled"}; `coopguard rotate` sends
// {"reason": "cli", "dryRun": true|false}.
type RotateRequest struct {
	Reason string `json:"reason,omitempty"`
	DryRun bool   `json:"dryRun,omitempty"`
}

// RotateKeys applies the rotation policy of [coopguard.rotation], triggered
// by the Cloud Scheduler job (attribute coopguard-job=rotate-keys: every
// managed secret) or by Secret Manager's SECRET_ROTATE notification (that
// secret only, in the project it names: coopguard's own or a sandbox's
// the registry records, secretEventProject). Other event types, test
// messages, other jobs, secrets not in config or of a project coopguard
// guards no such sandbox in, and undecodable payloads are logged and
// acknowledged; a failure (Secret Manager, the key source, the incidents
// topic) returns an error so Pub/Sub redelivers, and the policy's
// idempotence makes that harmless.
func (e *Env) RotateKeys(ctx context.Context, ev event.Event) error {
	ctx, msg, done, err := e.beginEvent(ctx, ev)
	if done {
		return err
	}
	log := logger.FromContext(ctx)
	opts := rotation.Options{DryRun: msg.Attributes[AttrDryRun] == "true"}
	kind := events.Classify(msg)
	switch kind {
	case events.KindScheduler:
		sm, err := events.DecodeSchedulerMessage(msg)
		if err != nil {
			return acknowledge(ctx, "undecodable Scheduler message", err)
		}
		if sm.Job != RotateKeysJob {
			log.Warn("Scheduler job is not "+RotateKeysJob+": acknowledged, nothing done; point that job at its own function", "job", sm.Job)
			return nil
		}
		if d, ok := sm.Body["dryRun"]; ok {
			b, isBool := d.(bool)
			if !isBool {
				return acknowledge(ctx, "Scheduler message", fmt.Errorf("%w: field dryRun: want true or false", events.ErrUndecodable))
			}
			opts.DryRun = opts.DryRun || b
		}
		opts.Trigger = "scheduler"
		if sm.Reason != "" {
			opts.Trigger += ":" + sm.Reason
		}
	case events.KindSecretEvent:
		if t := msg.Attributes[events.AttrSecretEventType]; t != SecretRotateEvent {
			// TOPIC_CONFIGURED (the test message), SECRET_UPDATE, version
			// events: the topic carries them all, rotation needs none.
			log.Info("Secret Manager event ignored: only SECRET_ROTATE triggers rotation", "secretEvent", t, "secretId", msg.Attributes["secretId"])
			return nil
		}
		se, err := events.DecodeSecretEvent(msg.Attributes, msg.Data)
		if err != nil {
			return acknowledge(ctx, "undecodable Secret Manager notification", err)
		}
		id := se.SecretName()
		vm, ok := e.Config.SecretSandbox(id)
		if !ok {
			log.Warn("SECRET_ROTATE for a secret coopguard does not manage: acknowledged, nothing done; add it to coopguard.secrets or remove the topic from it", "secret", id)
			return nil
		}
		opts.Secrets = []string{id}
		opts.Trigger = "secret-rotate"
		project, known, err := secretEventProject(ctx, e, se.SecretID, id, vm)
		if err != nil {
			return err // Pub/Sub redelivers; the lookup is a read
		}
		if !known {
			log.Warn("SECRET_ROTATE for a secret of a project where coopguard guards no sandbox it belongs to: acknowledged, nothing done; coopguard status lists the sandboxes and their projects",
				"secret", id, "name", se.SecretID)
			return nil
		}
		if project != e.Config.Cloud.GCP.Project {
			_, err := rotateProject(ctx, e, project, opts)
			return err
		}
	default:
		log.Warn("message is neither the rotate-keys Scheduler job nor a Secret Manager notification: acknowledged, nothing done", "kind", kind.String())
		return nil
	}
	_, err = RunRotation(ctx, e, opts)
	if kind == events.KindScheduler {
		// The daily job also checks posture: drift becomes a notify
		// incident, so someone sees the checklist slipping.
		err = errors.Join(err, scheduledPosture(ctx, e, opts.DryRun))
	}
	return err
}

// scheduledPosture runs the posture checks and turns failing ones into a
// notify incident (one per day and set of failing checks).
func scheduledPosture(ctx context.Context, e *Env, dryRun bool) error {
	rep, err := checkPosture(ctx, e, config.AccountRotator, nil)
	if err != nil {
		return fmt.Errorf("posture check: %w", err)
	}
	inc, drift := posture.DriftIncident(rep, e.Config.Cloud.GCP.Project, e.Now())
	if !drift {
		return nil
	}
	logger.FromContext(ctx).Warn("posture drift: "+inc.Trigger, "incident", inc.ID, "dryRun", dryRun)
	if dryRun {
		return nil
	}
	_, err = e.Rotator.Respond(ctx, inc, time.Now())
	return err
}

// RunRotation runs the rotation policy with e's config and clients, then
// reports: a WARNING log line per due secret, the rotation_due metric (best
// effort) and a rotation-due record on the incidents topic. Dry runs only
// log. The error is non-nil when something failed and a retry is needed.
func RunRotation(ctx context.Context, e *Env, opts rotation.Options) (*rotation.Report, error) {
	cfg := e.Config
	opts.DryRun = opts.DryRun || cfg.Coopguard.DryRun
	runner := NewRotationRunner(e, config.AccountRotator)
	// Every sandbox's own secrets: a sandbox's is rotated only while
	// that sandbox exists (a SECRET_ROTATE for another name is refused).
	// When the sandboxes cannot be listed, the configured sandbox's are
	// still rotated and the run reports the failure (a retry covers the
	// others).
	var errs []error
	managed, err := managedSecrets(ctx, e, config.AccountRotator)
	if err != nil {
		errs = append(errs, fmt.Errorf("rotation covers only %s's secrets: %w", cfg.VM.Name, err))
	} else {
		runner.Managed = managed
	}
	rep, err := runner.Run(ctx, opts)
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, reportDue(ctx, e, rep)...)
	if len(opts.Secrets) == 0 {
		// The sandboxes in projects of their own: one run per project
		// (a runner reads one project's secrets); their secrets join the
		// report. A SECRET_ROTATE for one of them is rotateProject's.
		perProject, err := registrySecrets(ctx, e)
		if err != nil {
			errs = append(errs, fmt.Errorf("rotation covers only coopguard's project: %w", err))
		}
		for _, project := range slices.Sorted(maps.Keys(perProject)) {
			prep, perrs := runIn(ctx, e, project, perProject[project], opts)
			errs = append(errs, perrs...)
			rep.Secrets = append(rep.Secrets, prep.Secrets...)
		}
	}
	logRun(ctx, rep, errs)
	return rep, errors.Join(errs...)
}

// rotateProject runs the rotation policy on the secrets of the sandboxes
// the registry records in project (another than coopguard's), limited to
// opts.Secrets: what a SECRET_ROTATE for a secret there asks for.
func rotateProject(ctx context.Context, e *Env, project string, opts rotation.Options) (*rotation.Report, error) {
	opts.DryRun = opts.DryRun || e.Config.Coopguard.DryRun
	perProject, err := registrySecrets(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("read the sandbox registry before rotating in project %s: %w", project, err)
	}
	rep, errs := runIn(ctx, e, project, perProject[project], opts)
	logRun(ctx, rep, errs)
	return rep, errors.Join(errs...)
}

// runIn is one project's run over its sandboxes' managed secrets, as the
// rotator, which holds its secrets role there; the safety check judges
// each secret's sandbox by the account the registry records for it.
func runIn(ctx context.Context, e *Env, project string, managed []string, opts rotation.Options) (*rotation.Report, []error) {
	r := NewRotationRunner(e, config.AccountRotator)
	r.Project, r.Managed, r.Identity = project, managed, identityCheckIn(e, config.AccountRotator, project)
	rep, err := r.Run(ctx, opts)
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("project %s: %w", project, err))
	}
	return rep, append(errs, reportDue(ctx, e, rep)...)
}

// logRun writes a run's one closing line: what it covered and what failed.
func logRun(ctx context.Context, rep *rotation.Report, errs []error) {
	level := slog.LevelInfo
	if len(errs) > 0 {
		level = slog.LevelError
	}
	changed := 0
	for _, s := range rep.Secrets {
		if s.Changed() {
			changed++
		}
	}
	logger.FromContext(ctx).Log(ctx, level, "rotation run finished", "project", rep.Project, "trigger", rep.Trigger, "dryRun", rep.DryRun,
		"secrets", len(rep.Secrets), "due", len(rep.Due()), "changed", changed, "seconds", rep.Seconds, "error", errors.Join(errs...))
}

// reportDue logs each due secret of rep and, unless it is a dry run,
// writes their rotation_due metric and publishes their rotation-due
// records (rep.Project names their project).
func reportDue(ctx context.Context, e *Env, rep *rotation.Report) []error {
	due := rep.Due()
	for _, s := range due {
		logger.FromContext(ctx).Warn("rotation due", "project", rep.Project, "secret", s.Secret, "reason", s.DueReason, "notAdded", s.NotAdded,
			"actions", actionSummary(s.Actions), "dryRun", rep.DryRun)
	}
	if rep.DryRun || len(due) == 0 {
		return nil
	}
	writeRotationMetric(ctx, e, rep.StartedAt, due)
	if err := publishRotationDue(ctx, e, rep, due); err != nil {
		return []error{err}
	}
	return nil
}

// registrySecrets are the managed secrets of the sandboxes the registry
// records in projects other than coopguard's, by project.
func registrySecrets(ctx context.Context, e *Env) (map[string][]string, error) {
	if e.Store == nil {
		return nil, nil
	}
	recs, err := e.Store.Sandboxes(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range recs {
		if r.Project != e.Config.Cloud.GCP.Project {
			out[r.Project] = append(out[r.Project], e.Config.SandboxSecrets(r.Name)...)
		}
	}
	return out, nil
}

// NewRotationRunner builds the rotation executor for e, acting as account
// (the rotator rotates; the reader only inspects): the configured
// sandbox's managed secrets (RunRotation adds the other sandboxes'),
// policy, clock and, when key_source_url is set, the HTTP key source.
func NewRotationRunner(e *Env, account string) *rotation.Runner {
	rc := e.Config.Coopguard.Rotation
	r := &rotation.Runner{
		Client:  e.ClientsOf(account).Secrets,
		Project: e.Config.Cloud.GCP.Project,
		Managed: e.Config.SandboxSecrets(e.Config.VM.Name),
		Policy:  rotation.PolicyFrom(rc),
		Now:     e.Now,
	}
	if account == config.AccountRotator {
		r.Identity = identityCheck(e, account)
	}
	if rc.KeySourceURL != "" {
		r.Source = &rotation.HTTPKeySource{
			URL:              rc.KeySourceURL,
			Project:          e.Config.Cloud.GCP.Project,
			CredentialSecret: rc.KeySourceCredentialSecret,
			Secrets:          e.ClientsOf(account).Secrets,
		}
	}
	// The new key's provider id goes to the incident store, where only
	// coopguard's accounts write: revoke-key names the key by it.
	if rv := e.Config.Coopguard.Revoke; rv.Provider == config.RevokeAnthropic && e.Store != nil {
		r.RecordKeyID = func(ctx context.Context, secret, version, keyID string) error {
			return e.Store.RecordProviderKey(ctx, store.ProviderKey{Secret: secret, Version: version, Provider: rv.Provider, KeyID: keyID})
		}
	}
	return r
}

func actionSummary(as []incident.ActionResult) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Action+" "+a.Target+": "+a.String())
	}
	return out
}

// writeRotationMetric writes the rotation_due gauge of every due secret in
// one call. It is best effort: a dashboard missing a point must not fail
// the run (and Monitoring refuses points closer than its sampling period,
// which a redelivery easily is).
func writeRotationMetric(ctx context.Context, e *Env, at time.Time, due []rotation.SecretReport) {
	project := e.Config.Cloud.GCP.Project
	var series []*monitoringpb.TimeSeries
	for _, s := range due {
		series = append(series, &monitoringpb.TimeSeries{
			Metric:     &metric.Metric{Type: RotationDueMetric, Labels: map[string]string{"secret": s.Secret}},
			Resource:   &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": project}},
			MetricKind: metric.MetricDescriptor_GAUGE,
			ValueType:  metric.MetricDescriptor_INT64,
			Points: []*monitoringpb.Point{{
				Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(at)},
				Value:    &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: 1}},
			}},
		})
	}
	const perCall = 200 // CreateTimeSeries' limit
	for i := 0; i < len(series); i += perCall {
		chunk := series[i:min(i+perCall, len(series))]
		err := retry.Do(ctx, retry.Default, func(ctx context.Context) error {
			return e.ClientsOf(config.AccountRotator).Metrics.CreateTimeSeries(ctx, &monitoringpb.CreateTimeSeriesRequest{Name: "projects/" + project, TimeSeries: chunk})
		})
		if err != nil {
			logger.FromContext(ctx).Info("rotation_due metric not written (best effort)", "metric", RotationDueMetric, "error", err)
		}
	}
}

// publishRotationDue puts one rotation-due record per due secret on the
// incidents topic: an incident.Report with outcome rotation-due, so the
// topic's subscribers read it like every other record. Its id is stable for
// one version being due, so consumers can drop the repeats that every
// scheduled run publishes until the secret is rotated.
func publishRotationDue(ctx context.Context, e *Env, rep *rotation.Report, due []rotation.SecretReport) error {
	topic := e.Config.Coopguard.Topics.Incidents
	pub := e.ClientsOf(config.AccountRotator).PubSub.Publisher(topic)
	pub.PublishSettings.DelayThreshold = time.Millisecond
	defer pub.Stop()
	finished := rep.StartedAt.Add(time.Duration(rep.Seconds * float64(time.Second)))
	type pending struct {
		secret string
		res    *pubsub.PublishResult
	}
	var results []pending
	for _, s := range due {
		newest := "none"
		for _, v := range s.Versions {
			if v.State == rotation.StateEnabled {
				newest = strconv.FormatInt(v.Number, 10)
				break
			}
		}
		r := incident.Report{
			Incident: incident.Incident{
				ID:        "rotation-" + s.Secret + "-v" + newest,
				Source:    incident.SourcePosture,
				Trigger:   "rotation:" + rep.Trigger,
				Playbook:  incident.PlaybookNotify,
				Severity:  "WARNING",
				Project:   rep.Project,
				Summary:   "secret " + s.Secret + " is due for rotation: " + s.DueReason,
				StartedAt: rep.StartedAt,
			},
			Outcome:    incident.OutcomeRotationDue,
			Reason:     firstNonEmpty(s.NotAdded, "a new version is added by the key source"),
			Actions:    s.Actions,
			ReceivedAt: rep.StartedAt,
			FinishedAt: finished,
		}
		data, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode the rotation-due record of secret %s: %w", s.Secret, err)
		}
		results = append(results, pending{s.Secret, pub.Publish(ctx, &pubsub.Message{
			Data: data,
			Attributes: map[string]string{
				"type": RotationDueType, "secret": s.Secret, "incident": r.Incident.ID,
				"outcome": r.Outcome, "severity": r.Severity(),
			},
		})})
	}
	var errs []error
	for _, p := range results {
		if _, err := p.res.Get(ctx); err != nil {
			errs = append(errs, fmt.Errorf("publish the rotation-due record of secret %s to topic %s: %w (coopguard provision creates the topic; coopguard needs roles/pubsub.publisher on it)", p.secret, topic, err))
		}
	}
	return errors.Join(errs...)
}

// secretEventProject is the project of managed secret id (sandbox vm's)
// that a Secret Manager notification names as name
// (projects/P/secrets/ID, P the project's number as Secret Manager writes
// it, or its id): coopguard's own project, or one where the registry
// records sandbox vm. Secret Manager itself says which project a number
// is: a GetSecret by project id answers the secret's name by number (as
// actions.EnableSecrets relies on), so no other API or role is needed;
// coopguard's project is asked first, then each project where the
// registry records a sandbox named vm. false when none of them holds the
// secret under that number: a project coopguard guards no such sandbox
// in. A project that refuses the read (the rotator's grant missing there)
// is skipped, and said, so that it does not hold up the others.
func secretEventProject(ctx context.Context, e *Env, name, id, vm string) (string, bool, error) {
	home := e.Config.Cloud.GCP.Project
	p, _, ok := strings.Cut(strings.TrimPrefix(name, "projects/"), "/secrets/")
	if !ok || !strings.HasPrefix(name, "projects/") || p == "" {
		return "", false, nil
	}
	candidates := []string{home}
	if e.Store != nil {
		recs, err := e.Store.Sandboxes(ctx)
		if err != nil {
			return "", false, fmt.Errorf("read the sandbox registry to find the project of secret %s: %w", name, err)
		}
		for _, r := range recs {
			if r.Name == vm && !slices.Contains(candidates, r.Project) {
				candidates = append(candidates, r.Project)
			}
		}
	}
	if slices.Contains(candidates, p) {
		return p, true, nil
	}
	if strings.Trim(p, "0123456789") != "" {
		return "", false, nil // a project id, not one of those
	}
	secrets := e.ClientsOf(config.AccountRotator).Secrets
	for _, c := range candidates {
		sec, err := secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/" + c + "/secrets/" + id})
		switch {
		case retry.IsNotFound(err):
			continue
		case retry.GRPCCode(err) == codes.PermissionDenied && c != home:
			logger.FromContext(ctx).Warn(fmt.Sprintf("SECRET_ROTATE: project %s refused the read of secret %s: the rotator needs its secrets role there (coopguard provision --project %s --name %s binds it)", c, id, c, vm),
				"error", err)
			continue
		case err != nil:
			return "", false, fmt.Errorf("read secret %s in project %s to tell which project number %s is: %w", id, c, p, err)
		}
		if seg := strings.Split(sec.GetName(), "/"); len(seg) == 4 && seg[1] == p {
			return c, true, nil
		}
	}
	return "", false, nil
}
