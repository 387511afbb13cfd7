package functions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/costs"
	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// WatchCostsJob is the coopguard-job attribute value of the Cloud
// Scheduler job that triggers WatchCosts (config.Jobs).
const WatchCostsJob = config.SchedulerWatchCosts

// minuteWindow is how far back WatchCosts looks, minute by minute, for a
// sandbox's key used while its VM is off: its schedule (15 minutes) with
// room for a late run.
const minuteWindow = time.Hour

// WatchCosts reads the model provider's usage report (Anthropic's Admin
// API, grouped by API key, with [coopguard.revoke]'s admin key) every 15
// minutes (Cloud Scheduler, attribute coopguard-job=watch-costs) and runs
// what costs.Watch finds: a sandbox's key used while its VM is stopped or
// quarantined is used elsewhere (contain, which revokes it); spend per
// hour or per day above [coopguard.budget]'s limits quarantines, naming
// the figure. Keys no sandbox's managed secrets record are not
// coopguard's: they are counted in the log and ignored. A failed read is
// logged and acknowledged: the next run reads again.
func (e *Env) WatchCosts(ctx context.Context, ev event.Event) error {
	received := time.Now()
	ctx, msg, done, err := e.beginEvent(ctx, ev)
	if done {
		return err
	}
	log := logger.FromContext(ctx)
	if events.Classify(msg) != events.KindScheduler {
		log.Warn("WatchCosts takes only its Cloud Scheduler job's messages: acknowledged, nothing done", "attributes", len(msg.Attributes))
		return nil
	}
	sm, err := events.DecodeSchedulerMessage(msg)
	if err != nil {
		return acknowledge(ctx, "undecodable Scheduler message", err)
	}
	if sm.Job != WatchCostsJob {
		log.Warn("Scheduler job is not "+WatchCostsJob+": acknowledged, nothing done; point that job at its own function", "job", sm.Job)
		return nil
	}
	cfg := e.Config
	if cfg.Coopguard.Revoke.Provider != config.RevokeAnthropic {
		log.Info("model spend is not watched: it reads Anthropic's usage report with the admin key of [coopguard.revoke] provider = \"anthropic\"")
		return nil
	}
	clients := e.ClientsOf(config.AccountCosts)
	sandboxes, err := e.costSandboxes(ctx)
	if err != nil {
		log.Warn("could not list the sandboxes; the next run tries again", "error", err)
		return nil
	}
	admin, ok := revoke.New(cfg.Coopguard.Revoke, cfg.Cloud.GCP.Project, clients.Secrets, e.Store, nil).(*revoke.Anthropic)
	if !ok {
		return nil
	}
	now := e.Now().UTC()
	minutes, err := admin.MessagesUsage(ctx, now.Add(-minuteWindow).Truncate(time.Minute), now, "1m")
	if err != nil {
		log.Warn("could not read the usage report; the next run reads again", "error", err)
		return nil
	}
	var hours []revoke.UsageBucket
	if cfg.Coopguard.Budget.ModelLimits() {
		if hours, err = admin.MessagesUsage(ctx, now.Add(-24*time.Hour).Truncate(time.Hour), now, "1h"); err != nil {
			log.Warn("could not read the usage report; the next run reads again", "error", err)
			return nil
		}
	}
	res := costs.Watch(sandboxes, minutes, hours, cfg.Coopguard.Budget, now)
	if len(res.Unmanaged) > 0 {
		log.Info("usage by API keys coopguard does not manage (no sandbox's secret records them): ignored", "keys", len(res.Unmanaged))
	}
	var errs []error
	for _, f := range res.Findings {
		sev := "ERROR"
		if f.Playbook == incident.PlaybookContain {
			sev = "CRITICAL"
		}
		inc := incident.Incident{
			ID: f.ID, Source: sourceOf(msg, incident.SourceCost), Trigger: f.Trigger, Playbook: f.Playbook, Severity: sev,
			Project: cfg.Cloud.GCP.Project, Zone: cfg.Cloud.GCP.Zone, InstanceID: f.Sandbox.InstanceID,
			Summary: f.Summary, StartedAt: received, EventID: msg.MessageID, DryRun: msg.Attributes[AttrDryRun] == "true",
		}
		if _, err := e.Costs.Respond(ctx, inc, received); err != nil {
			errs = append(errs, fmt.Errorf("incident %s: %w", inc.ID, err))
		}
	}
	// A failed response is redelivered (the incident store makes the
	// redelivery finish it, not repeat it).
	return errors.Join(errs...)
}

// costSandboxes lists every sandbox Provision built in the configured zone
// (its VM labelled coopguard-sandbox=<its name>) with the provider key
// ids recorded for its managed secrets and when it stopped being able to
// use them itself: the VM's last stop when not RUNNING, or the latest
// incident on it while it carries the quarantine tag.
func (e *Env) costSandboxes(ctx context.Context) ([]costs.Sandbox, error) {
	if e.Store == nil {
		return nil, errors.New("no incident store: the provider key ids are recorded there")
	}
	g := e.Config.Cloud.GCP
	clients := e.ClientsOf(config.AccountCosts)
	it := clients.Instances.List(ctx, &computepb.ListInstancesRequest{Project: g.Project, Zone: g.Zone, Filter: ptr("labels." + config.SandboxLabel + ":*")})
	var out []costs.Sandbox
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list the sandboxes in %s/%s: %w", g.Project, g.Zone, err)
		}
		name := inst.GetName()
		if inst.GetLabels()[config.SandboxLabel] != name {
			continue
		}
		s := costs.Sandbox{Name: name, InstanceID: strconv.FormatUint(inst.GetId(), 10)}
		for _, secret := range e.Config.SandboxSecrets(name) {
			keys, err := e.Store.ProviderKeysOf(ctx, secret)
			if err != nil {
				return nil, fmt.Errorf("read the provider keys of secret %s: %w", secret, err)
			}
			for _, k := range keys {
				if k.KeyID != "" && !slices.Contains(s.Keys, k.KeyID) {
					s.Keys = append(s.Keys, k.KeyID)
				}
			}
		}
		switch {
		case inst.GetStatus() != "RUNNING":
			s.OffSince, _ = time.Parse(time.RFC3339Nano, inst.GetLastStopTimestamp())
		case slices.Contains(inst.GetTags().GetItems(), config.QuarantineTag):
			recs, err := e.Store.OnInstance(ctx, name)
			if err != nil {
				return nil, err
			}
			for _, r := range recs {
				if r.ReceivedAt.After(s.OffSince) {
					s.OffSince = r.ReceivedAt
				}
			}
		}
		out = append(out, s)
	}
}
