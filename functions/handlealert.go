package functions

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// PlaybookLabel is the alert policy user label that names the playbook.
const PlaybookLabel = "coopguard-playbook"

// HandleAlert handles a Cloud Monitoring incident delivered over Pub/Sub.
// An open incident of the CPU policy Provision made for the sandbox whose
// VM it names runs its playbook; one of any other policy, or about any
// other resource, is logged and acknowledged; one about a sandbox whose
// incident is open is appended to that incident; a closed one and a test notification
// are logged and acknowledged; an undecodable payload is logged and
// acknowledged (redelivering it cannot help); a failed action returns an
// error so Pub/Sub redelivers and the redelivery finishes what is left.
func (e *Env) HandleAlert(ctx context.Context, ev event.Event) error {
	received := time.Now()
	ctx, msg, done, err := e.beginEvent(ctx, ev)
	if done {
		return err
	}
	log := logger.FromContext(ctx)
	m, err := events.DecodeIncident(msg.Data)
	if err != nil {
		return acknowledge(ctx, "undecodable Monitoring notification", err)
	}
	switch {
	case m.IsTest():
		log.Info("Monitoring test notification acknowledged; no action", "policy", m.PolicyName)
		return nil
	case m.State == events.IncidentClosed:
		log.Log(ctx, logger.LevelNotice, "Monitoring incident closed; no action", "incident", "alert-"+m.IncidentID,
			"policy", m.PolicyName, "endedAt", m.EndedAt, "summary", m.Summary)
		return nil
	}
	why, account, err := foreignAlert(ctx, e, m)
	if err != nil {
		return fmt.Errorf("find the sandbox alert-%s is about: %w (redelivered)", m.IncidentID, err)
	}
	if why != "" {
		log.Warn("Monitoring incident not from coopguard's policy for that sandbox; acknowledged, no action",
			"incident", "alert-"+m.IncidentID, "policy", m.PolicyName, "reason", why)
		return nil
	}
	inc := alertIncident(e.Config, m, msg)
	// The sandbox's own VM burning CPU while its incident is open is one
	// more line on that incident, as a later call by its account is: no
	// second response (which would disable the key versions the operator
	// added since). The alert is the sandbox's doing, so it is appended
	// as its account's.
	later := respond.Later{Incident: inc, Principal: account, Method: "Cloud Monitoring alert: " + cmp.Or(m.ConditionName, m.PolicyName)}
	if rep, ok, err := e.Responder.Append(ctx, inc.InstanceID, later); err != nil {
		return fmt.Errorf("append alert-%s to its sandbox's open incident: %w (redelivered)", m.IncidentID, err)
	} else if ok {
		log.Info("Monitoring incident appended to the sandbox's open incident", "incident", inc.ID, "openIncident", rep.Incident.ID, "policy", m.PolicyName)
		return nil
	}
	_, err = e.Responder.Respond(ctx, inc, received)
	return err
}

// alertIncident maps a Monitoring incident to an Incident.
func alertIncident(cfg *config.Config, m events.MonitoringIncident, msg events.PubSubMessage) incident.Incident {
	project := m.Resource.ProjectID()
	if project == "" {
		project = cfg.Cloud.GCP.Project
	}
	return incident.Incident{
		ID:         "alert-" + m.IncidentID,
		Source:     sourceOf(msg, incident.SourceAlert),
		Trigger:    m.PolicyName,
		Playbook:   alertPlaybook(cfg, m),
		Severity:   alertSeverity(m.Severity),
		Project:    project,
		Zone:       m.Resource.Zone(),
		InstanceID: m.Resource.InstanceID(),
		Summary:    m.Summary,
		URL:        m.URL,
		StartedAt:  m.StartedAt,
		EventID:    msg.MessageID,
		DryRun:     msg.Attributes[AttrDryRun] == "true",
	}
}

// alertPlaybook picks the policy's label, then config's mapping by policy
// name, then contain. An unknown label value contains too: a typo must not
// leave a compromised sandbox running.
func alertPlaybook(cfg *config.Config, m events.MonitoringIncident) string {
	if pb := strings.ToLower(m.PolicyUserLabels[PlaybookLabel]); playbook.Known(pb) {
		return pb
	}
	if pb := cfg.Coopguard.Playbooks[m.PolicyName]; playbook.Known(pb) {
		return pb
	}
	return incident.PlaybookContain
}

// alertSeverity maps Monitoring's policy severity to Cloud Logging's.
func alertSeverity(s string) string {
	switch strings.ToUpper(s) {
	case "CRITICAL":
		return "CRITICAL"
	case "WARNING":
		return "WARNING"
	}
	return "ERROR"
}
