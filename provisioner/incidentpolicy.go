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

// incidentDoc is the notification's text. It carries nothing from the
// entry that matched: the incidents log is writable by anyone holding
// logging.logEntries.create, the sandbox's own account included, and
// Cloud Logging records no writer on an entry nor refuses a made-up
// resource or log name, so an entry there cannot be told from coopguard's.
// No label extractor, no ${log.*} variable: the message is a fixed prompt
// to read coopguard's own store, which only coopguard's accounts write.
func (s *Sandbox) incidentDoc() *monitoringpb.AlertPolicy_Documentation {
	var b strings.Builder
	fmt.Fprintf(&b, "## coopguard: an incident report about sandbox `%s`\n\n", s.Name)
	fmt.Fprintf(&b, "- **Sandbox:** `%s` (project `%s`, zone `%s`)\n\n", s.Name, s.Project, s.Zone)
	b.WriteString("A report about this sandbox reached coopguard's incidents log. " +
		"Read what coopguard recorded, from its own store (the incident, its outcome, every action and its result):\n\n")
	b.WriteString("    coopguard incidents\n    coopguard incidents show INCIDENT_ID\n\n")
	b.WriteString("This message says nothing more on purpose: the sandbox's own account may write to the log this policy " +
		"matches, so nothing from the entry is shown here, and a message with no incident in `coopguard incidents` " +
		"means someone wrote an entry that looks like a report. " +
		"At most one message every 5 minutes per sandbox: `coopguard incidents` lists every incident. " +
		"Rotate the key before `coopguard resolve`.\n")
	return &monitoringpb.AlertPolicy_Documentation{
		Subject:  "coopguard: incident report about sandbox " + s.Name + " (read coopguard incidents)",
		Content:  b.String(),
		MimeType: "text/markdown",
	}
}

func (r *incidentPolicy) desired() *monitoringpb.AlertPolicy {
	s := r.s
	// No coopguard-playbook label: this policy tells people, it must
	// never trigger a response (it notifies no coopguard channel).
	return s.logMatchPolicy(r.Name(), s.incidentDoc(),
		map[string]string{NotifyLabel: "incidents", config.SandboxLabel: s.Name},
		"coopguard incident report about sandbox "+s.Name, s.IncidentFilter(), monitoringpb.AlertPolicy_CRITICAL)
}

// logMatchPolicy is a policy that notifies the operator's channels
// ([coopguard.notify]) when an entry matches filter. Log-based policies
// must rate-limit; 5 minutes is the service's floor. With no label
// extractor, one notification per period stands for every entry in it.
func (s *Sandbox) logMatchPolicy(name string, doc *monitoringpb.AlertPolicy_Documentation, labels map[string]string, condition, filter string, severity monitoringpb.AlertPolicy_Severity) *monitoringpb.AlertPolicy {
	return &monitoringpb.AlertPolicy{
		DisplayName:   name,
		Documentation: doc,
		UserLabels:    labels,
		Combiner:      monitoringpb.AlertPolicy_OR,
		Conditions: []*monitoringpb.AlertPolicy_Condition{{
			DisplayName: condition,
			Condition: &monitoringpb.AlertPolicy_Condition_ConditionMatchedLog{ConditionMatchedLog: &monitoringpb.AlertPolicy_Condition_LogMatch{
				Filter: filter,
			}},
		}},
		AlertStrategy: &monitoringpb.AlertPolicy_AlertStrategy{
			NotificationRateLimit: &monitoringpb.AlertPolicy_AlertStrategy_NotificationRateLimit{Period: durationpb.New(LogAlertRateLimit)},
			AutoClose:             durationpb.New(LogAlertAutoClose),
		},
		NotificationChannels: slices.Clone(s.NotifyChannels),
		Severity:             severity,
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
