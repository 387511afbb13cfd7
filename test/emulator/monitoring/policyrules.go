package monitoring

import (
	"regexp"
	"sort"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// The alert policy rules of the API reference
// (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies)
// and of log-based alerting policies
// (https://cloud.google.com/logging/docs/alerting/log-based-alerts), each
// row of test/emulator/FIDELITY.md's Monitoring section.
const (
	maxDisplayName      = 512   // Unicode characters
	maxUserLabels       = 64    // entries
	maxLabelChars       = 63    // Unicode characters per key and value
	maxLabelBytes       = 128   // bytes per key and value
	maxConditions       = 6     // "from one to six conditions"
	maxDocContentChars  = 8192  // Unicode characters
	maxDocContentBytes  = 10240 // bytes in UTF-8
	maxDocSubjectBytes  = 10240
	maxDocLinks         = 3
	maxLinkDisplayChars = 63
	maxLinkURLChars     = 2083
	maxMetricFilter     = 2048 // threshold and absence filters
	// minLogRateLimit: log-based policies notify at most once every 5
	// minutes whatever the period says; the reference does not say that
	// a shorter period is refused, so refusing it is the stricter model.
	minLogRateLimit = 5 * time.Minute
)

// userLabel is the character set of user label keys and values; keys
// must also begin with a lowercase letter.
var userLabel = regexp.MustCompile(`^[a-z0-9_-]*$`)

func invalidArg(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// validatePolicy checks a policy against the API's documented rules; it
// does not look at names or channels (preparePolicy does).
func validatePolicy(p *monitoringpb.AlertPolicy) error {
	if n := utf8.RuneCountInString(p.GetDisplayName()); n > maxDisplayName {
		return invalidArg("Field alert_policy.display_name has %d characters; the limit is %d.", n, maxDisplayName)
	}
	if err := validateUserLabels(p.GetUserLabels()); err != nil {
		return err
	}
	if err := validateDocumentation(p.GetDocumentation()); err != nil {
		return err
	}
	conds := p.GetConditions()
	if len(conds) > maxConditions {
		return invalidArg("Field alert_policy.conditions has %d conditions; a policy can have from one to %d.", len(conds), maxConditions)
	}
	logBased := false
	for i, c := range conds {
		switch k := c.GetCondition().(type) {
		case *monitoringpb.AlertPolicy_Condition_ConditionMatchedLog:
			logBased = true
			if len(conds) > 1 {
				return invalidArg("Field alert_policy.conditions[%d]: a condition_matched_log must be the policy's only condition.", i)
			}
			if err := validateLogMatch(i, k.ConditionMatchedLog); err != nil {
				return err
			}
		case *monitoringpb.AlertPolicy_Condition_ConditionMonitoringQueryLanguage:
			if len(conds) > 1 {
				return invalidArg("Field alert_policy.conditions[%d]: a condition_monitoring_query_language must be the policy's only condition.", i)
			}
		case *monitoringpb.AlertPolicy_Condition_ConditionThreshold:
			if n := utf8.RuneCountInString(k.ConditionThreshold.GetFilter()); n > maxMetricFilter {
				return invalidArg("Field alert_policy.conditions[%d].condition_threshold.filter has %d characters; the limit is %d.", i, n, maxMetricFilter)
			}
		case *monitoringpb.AlertPolicy_Condition_ConditionAbsent:
			if n := utf8.RuneCountInString(k.ConditionAbsent.GetFilter()); n > maxMetricFilter {
				return invalidArg("Field alert_policy.conditions[%d].condition_absent.filter has %d characters; the limit is %d.", i, n, maxMetricFilter)
			}
		}
	}
	if logBased {
		return validateLogStrategy(p.GetAlertStrategy())
	}
	return nil
}

func validateUserLabels(labels map[string]string) error {
	if len(labels) > maxUserLabels {
		return invalidArg("Field alert_policy.user_labels has %d entries; the limit is %d.", len(labels), maxUserLabels)
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for what, s := range map[string]string{"key": k, "value": labels[k]} {
			if utf8.RuneCountInString(s) > maxLabelChars || len(s) > maxLabelBytes {
				return invalidArg("User label %s %q is too long: at most %d characters and %d bytes.", what, s, maxLabelChars, maxLabelBytes)
			}
			if !userLabel.MatchString(s) {
				return invalidArg("User label %s %q may contain only lowercase letters, digits, underscores and dashes.", what, s)
			}
		}
		if k == "" || k[0] < 'a' || k[0] > 'z' {
			return invalidArg("User label key %q must begin with a lowercase letter.", k)
		}
	}
	return nil
}

func validateDocumentation(d *monitoringpb.AlertPolicy_Documentation) error {
	if d == nil {
		return nil
	}
	if n := utf8.RuneCountInString(d.GetContent()); n > maxDocContentChars || len(d.GetContent()) > maxDocContentBytes {
		return invalidArg("Field alert_policy.documentation.content has %d characters and %d bytes; the limit is %d characters and %d bytes.", n, len(d.GetContent()), maxDocContentChars, maxDocContentBytes)
	}
	if mt := d.GetMimeType(); mt != "" && mt != "text/markdown" {
		return invalidArg("Field alert_policy.documentation.mime_type %q is not supported; only \"text/markdown\" is.", mt)
	}
	if len(d.GetSubject()) > maxDocSubjectBytes {
		return invalidArg("Field alert_policy.documentation.subject has %d bytes; the limit is %d.", len(d.GetSubject()), maxDocSubjectBytes)
	}
	if len(d.GetLinks()) > maxDocLinks {
		return invalidArg("Field alert_policy.documentation.links has %d entries; the limit is %d.", len(d.GetLinks()), maxDocLinks)
	}
	for i, l := range d.GetLinks() {
		if n := utf8.RuneCountInString(l.GetDisplayName()); n == 0 || n > maxLinkDisplayChars {
			return invalidArg("Field alert_policy.documentation.links[%d].display_name must have 1 to %d characters.", i, maxLinkDisplayChars)
		}
		if n := utf8.RuneCountInString(l.GetUrl()); n > maxLinkURLChars {
			return invalidArg("Field alert_policy.documentation.links[%d].url has %d characters; the limit is %d.", i, n, maxLinkURLChars)
		}
	}
	return nil
}

// validateLogMatch parses the condition's filter and label extractors
// with the emulated Logging's own query language.
func validateLogMatch(i int, m *monitoringpb.AlertPolicy_Condition_LogMatch) error {
	if m.GetFilter() == "" {
		return invalidArg("Field alert_policy.conditions[%d].condition_matched_log.filter is required.", i)
	}
	if _, err := logging.ParseFilter(m.GetFilter()); err != nil {
		return invalidArg("Field alert_policy.conditions[%d].condition_matched_log.filter: %s", i, status.Convert(err).Message())
	}
	keys := make([]string, 0, len(m.GetLabelExtractors()))
	for k := range m.GetLabelExtractors() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := logging.ParseExtractor(m.GetLabelExtractors()[k]); err != nil {
			return invalidArg("Field alert_policy.conditions[%d].condition_matched_log.label_extractors[%q]: %s", i, k, status.Convert(err).Message())
		}
	}
	return nil
}

// validateLogStrategy: a policy with a log-match condition needs a
// notification rate limit, and notifies only when incidents open.
func validateLogStrategy(s *monitoringpb.AlertPolicy_AlertStrategy) error {
	rl := s.GetNotificationRateLimit()
	if rl == nil {
		return invalidArg("Field alert_policy.alert_strategy.notification_rate_limit is required for a policy with a condition_matched_log.")
	}
	if rl.GetPeriod().AsDuration() < minLogRateLimit {
		return invalidArg("Field alert_policy.alert_strategy.notification_rate_limit.period %s is shorter than %s: log-based policies notify at most once every 5 minutes.", rl.GetPeriod().AsDuration(), minLogRateLimit)
	}
	for _, np := range s.GetNotificationPrompts() {
		if np != monitoringpb.AlertPolicy_AlertStrategy_OPENED {
			return invalidArg("Field alert_policy.alert_strategy.notification_prompts: a log-based policy notifies only when an incident is OPENED, not %s.", np)
		}
	}
	return nil
}
