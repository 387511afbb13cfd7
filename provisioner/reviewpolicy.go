package provisioner

import (
	"context"
	"fmt"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// ReviewPolicyName is the display name of the policy through which the
// weekly review reaches the operator's channels.
const ReviewPolicyName = "coopguard weekly review"

// ReviewUpdateMethod is the Admin Activity methodName of the reviewer's
// weekly update of the review policy's documentation
// (https://cloud.google.com/monitoring/audit-logging).
const ReviewUpdateMethod = "google.monitoring.v3.AlertPolicyService.UpdateAlertPolicy"

// ReviewFilter is the review policy's log filter: the Admin Activity entry
// of a successful UpdateAlertPolicy by coopguard's reviewer. The Review
// job writes the week's summary into this policy's documentation, and
// the audit entry of that very update fires the policy, whose
// notification carries the documentation (Monitoring expands it when it
// sends, https://cloud.google.com/monitoring/alerts/doc-variables).
//
// The text comes from the reviewer's account and the trigger from Cloud
// Audit Logs, which no caller can write: the sandbox's account can
// write coopguard's incidents log (logging.logWriter), so a policy on
// that log fires for look-alikes and a label extractor would show the
// sandbox's text. Here neither is possible. The reviewer updates no
// other policy (deploy/roles: the update is its only Monitoring write).
func (s *Sandbox) ReviewFilter() string {
	return fmt.Sprintf(`logName=%q AND protoPayload.methodName=%q AND protoPayload.authenticationInfo.principalEmail=%q AND NOT protoPayload.status.code:*`,
		"projects/"+s.Project+"/logs/cloudaudit.googleapis.com%2Factivity", ReviewUpdateMethod,
		config.AccountEmail(config.AccountReviewer, s.Project))
}

// reviewPolicy is the project's "coopguard weekly review" policy. The
// provisioner owns everything but the documentation, which the Review job
// rewrites weekly; a converge keeps the documentation it finds.
type reviewPolicy struct{ s *Sandbox }

func (r *reviewPolicy) Kind() string   { return "alertPolicy" }
func (r *reviewPolicy) Name() string   { return ReviewPolicyName }
func (r *reviewPolicy) Deps() []string { return nil }

// reviewPlaceholder is the documentation before the first review.
func (s *Sandbox) reviewPlaceholder() *monitoringpb.AlertPolicy_Documentation {
	return &monitoringpb.AlertPolicy_Documentation{
		Subject: "coopguard weekly review of " + s.Project + ": none yet",
		Content: fmt.Sprintf("## coopguard weekly review of project `%s`\n\n"+
			"No review has run yet. The Review job writes each week's summary here; read a review any time with:\n\n"+
			"    coopguard review --since 7d\n", s.Project),
		MimeType: "text/markdown",
	}
}

func (r *reviewPolicy) desired() *monitoringpb.AlertPolicy {
	s := r.s
	return s.logMatchPolicy(ReviewPolicyName, s.reviewPlaceholder(), map[string]string{NotifyLabel: "review"},
		"coopguard's reviewer wrote the week's review", s.ReviewFilter(), monitoringpb.AlertPolicy_WARNING)
}

func (r *reviewPolicy) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	want := r.desired()
	got, err := findPolicy(ctx, c, r.s.Project, ReviewPolicyName)
	if err != nil {
		return Change{}, err
	}
	if got.GetDocumentation().GetContent() != "" {
		want.Documentation = got.GetDocumentation()
	}
	return convergePolicy(ctx, c, r.s.Project, want, "the weekly review's summary → "+joinOrNone(r.s.NotifyChannels))
}
