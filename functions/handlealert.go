package functions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/provisioner"
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
// other resource, is logged and acknowledged; a closed one and a test notification
// are logged and acknowledged; an undecodable payload is logged and
// acknowledged (redelivering it cannot help); a failed action returns an
// error so Pub/Sub redelivers and the redelivery finishes what is left.
func HandleAlert(ctx context.Context, ev event.Event) error {
	received := time.Now()
	ctx, e, msg, done, err := beginEvent(ctx, ev)
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
	why, err := foreignAlert(ctx, e, m)
	if err != nil {
		return fmt.Errorf("find the sandbox alert-%s is about: %w (redelivered)", m.IncidentID, err)
	}
	if why != "" {
		log.Warn("Monitoring incident not from coopguard's policy for that sandbox; acknowledged, no action",
			"incident", "alert-"+m.IncidentID, "policy", m.PolicyName, "reason", why)
		return nil
	}
	inc := alertIncident(e.Config, m, msg)
	_, err = e.Responder.Respond(ctx, inc, received)
	return err
}

// foreignAlert says why m is not an incident of the CPU policy Provision
// made for the VM it names, or "" when it is. Anyone who may edit alert
// policies can point one at coopguard's channel, with any playbook label
// and any resource; only the policy coopguard made for a sandbox, about
// that sandbox's own VM, decides that the VM is contained. The VM is
// found by its numeric id among the guarded zone's instances; its
// coopguard-sandbox label, set by Provision, names the sandbox.
func foreignAlert(ctx context.Context, e *Env, m events.MonitoringIncident) (string, error) {
	id := m.Resource.InstanceID()
	if m.Resource.Type != "gce_instance" || id == "" {
		return fmt.Sprintf("the incident is about a %q resource, not a sandbox VM", m.Resource.Type), nil
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return fmt.Sprintf("instance id %q is not numeric", id), nil
	}
	g := e.Config.Cloud.GCP
	if p := m.Resource.ProjectID(); p != "" && p != g.Project {
		return fmt.Sprintf("the incident is about project %q; coopguard guards %q", p, g.Project), nil
	}
	it := e.Clients.Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: g.Project, Zone: g.Zone, Filter: ptr("id = " + id),
	})
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return fmt.Sprintf("no instance with id %s in %s/%s", id, g.Project, g.Zone), nil
		}
		if err != nil {
			return "", fmt.Errorf("list instances in %s/%s: %w", g.Project, g.Zone, err)
		}
		if strconv.FormatUint(inst.GetId(), 10) != id {
			continue // the filter is the server's; check the id ourselves too
		}
		name := inst.GetLabels()[config.SandboxLabel]
		if name == "" || name != inst.GetName() {
			return fmt.Sprintf("instance %s is not a sandbox Provision built (label %s=%q)", inst.GetName(), config.SandboxLabel, name), nil
		}
		if want := provisioner.AlertPolicyName(name); m.PolicyName != want {
			return fmt.Sprintf("policy %q is not the policy coopguard made for sandbox %s (%q)", m.PolicyName, name, want), nil
		}
		if l, ok := m.PolicyUserLabels[config.SandboxLabel]; ok && l != name {
			return fmt.Sprintf("the policy is labelled %s=%q, not %q", config.SandboxLabel, l, name), nil
		}
		return "", nil
	}
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
