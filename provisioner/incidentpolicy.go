package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// NotifyLabel is the user label that marks coopguard's notifying alert
// policies; its value says what they tell ("incidents", "dead-letter").
const NotifyLabel = "coopguard-notify"

// IncidentLabelExtractors are the incident policy's label extractors: the
// values a notification's documentation shows, read from the report entry
// (shared/report writes them as entry labels).
var IncidentLabelExtractors = map[string]string{
	"incident": "EXTRACT(labels.incident)",
	"outcome":  "EXTRACT(labels.outcome)",
	"playbook": "EXTRACT(labels.playbook)",
	"actions":  "EXTRACT(labels.actions)",
}

// incidentPolicy is the log-match alert policy that tells the operator's
// own notification channels ([coopguard.notify] channels) of every
// incident report about the sandbox, seconds after coopguard acted.
type incidentPolicy struct{ s *Sandbox }

func (r *incidentPolicy) Kind() string   { return "alertPolicy" }
func (r *incidentPolicy) Name() string   { return r.s.IncidentPolicyName() }
func (r *incidentPolicy) Deps() []string { return nil }

// IncidentFilter is the incident policy's log filter: the sandbox's
// reports in coopguard's incidents log that someone should read (not
// "ignored" or "resolved", which are INFO).
func (s *Sandbox) IncidentFilter() string {
	return fmt.Sprintf(`logName=%q AND jsonPayload.instance=%q AND severity>=NOTICE`,
		"projects/"+s.Project+"/logs/"+incident.ReportLogID, s.Name)
}

// incidentDoc is the notification's text. ${log.extracted_label.KEY} are
// Monitoring's documentation variables, filled from IncidentLabelExtractors.
func (s *Sandbox) incidentDoc() *monitoringpb.AlertPolicy_Documentation {
	var b strings.Builder
	fmt.Fprintf(&b, "## coopguard acted on sandbox `%s`\n\n", s.Name)
	fmt.Fprintf(&b, "- **Sandbox:** `%s` (project `%s`, zone `%s`)\n", s.Name, s.Project, s.Zone)
	b.WriteString("- **Outcome:** ${log.extracted_label.outcome}\n")
	b.WriteString("- **Playbook:** ${log.extracted_label.playbook}\n")
	b.WriteString("- **What was done:** ${log.extracted_label.actions}\n")
	b.WriteString("- **Incident:** `${log.extracted_label.incident}`\n\n")
	b.WriteString("Read the whole report (every action, its result, the evidence):\n\n")
	b.WriteString("    coopguard incidents show ${log.extracted_label.incident}\n\n")
	b.WriteString("`contained` means egress is cut, the key's versions are disabled and the VM's stop is requested; " +
		"the follow-up (the VM TERMINATED, the snapshot, the evidence) runs on and a second message says how it ended: " +
		"`complete`, or `incomplete` naming what it could not do (the containment still holds). " +
		"An `incomplete` with no containment means an action failed and the event is being redelivered. " +
		"Rotate the key before `coopguard resolve`.\n\n")
	b.WriteString("This message is a prompt, not the record: the sandbox's own account may write to the log it matched. " +
		"Trust the report `coopguard incidents show` reads from coopguard's store.\n")
	return &monitoringpb.AlertPolicy_Documentation{
		Subject:  "coopguard: sandbox " + s.Name + " incident ${log.extracted_label.outcome} (${log.extracted_label.playbook})",
		Content:  b.String(),
		MimeType: "text/markdown",
	}
}

func (r *incidentPolicy) desired() *monitoringpb.AlertPolicy {
	s := r.s
	return &monitoringpb.AlertPolicy{
		DisplayName:   r.Name(),
		Documentation: s.incidentDoc(),
		// No coopguard-playbook label: this policy tells people, it must
		// never trigger a response (it notifies no coopguard channel).
		UserLabels: map[string]string{NotifyLabel: "incidents", config.SandboxLabel: s.Name},
		Combiner:   monitoringpb.AlertPolicy_OR,
		Conditions: []*monitoringpb.AlertPolicy_Condition{{
			DisplayName: "coopguard incident report about sandbox " + s.Name,
			Condition: &monitoringpb.AlertPolicy_Condition_ConditionMatchedLog{ConditionMatchedLog: &monitoringpb.AlertPolicy_Condition_LogMatch{
				Filter:          s.IncidentFilter(),
				LabelExtractors: IncidentLabelExtractors,
			}},
		}},
		// Log-based policies must rate-limit; 5 minutes is the service's
		// floor. Each incident id is its own label set, so a second
		// incident opens its own notification.
		AlertStrategy: &monitoringpb.AlertPolicy_AlertStrategy{
			NotificationRateLimit: &monitoringpb.AlertPolicy_AlertStrategy_NotificationRateLimit{Period: durationpb.New(LogAlertRateLimit)},
			AutoClose:             durationpb.New(LogAlertAutoClose),
		},
		NotificationChannels: slices.Clone(s.NotifyChannels),
		Severity:             monitoringpb.AlertPolicy_CRITICAL,
		Enabled:              wrapperspb.Bool(true),
	}
}

// LogAlertRateLimit and LogAlertAutoClose are the notifying log-match
// policy's alert strategy.
const (
	LogAlertRateLimit = 5 * time.Minute
	LogAlertAutoClose = 30 * time.Minute
)

func (r *incidentPolicy) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	detail := fmt.Sprintf("incident reports about %s → %s", r.s.Name, joinOrNone(r.s.NotifyChannels))
	return convergePolicy(ctx, c, r.s.Project, r.desired(), detail)
}

// joinOrNone lists channels for a plan line.
func joinOrNone(channels []string) string {
	if len(channels) == 0 {
		return "no channel (set [coopguard.notify] channels)"
	}
	return strings.Join(channels, ", ")
}
