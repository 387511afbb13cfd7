package provisioner

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// DeafPolicyName is the display name of the policy that tells the
// operator when coopguard's own pipeline is changed or deleted.
const DeafPolicyName = "coopguard deaf"

// DeafMethods are the Admin Activity methodNames that can make coopguard
// deaf: its sink, topics, subscriptions or Eventarc triggers deleted,
// detached or changed (a sink disabled or refiltered is an UpdateSink),
// its functions deleted — a deleted HandleLogEntry takes its trigger
// with it, so its own deletion never reaches coopguard — or the accounts
// its functions run as disabled or deleted (a disabled responder can
// neither contain nor tell anyone).
// https://cloud.google.com/logging/docs/audit-logging,
// https://cloud.google.com/pubsub/docs/audit-logging,
// https://cloud.google.com/eventarc/docs/reference/audit-logs,
// https://cloud.google.com/run/docs/audit-logging,
// https://cloud.google.com/functions/docs/monitoring/audit-logging,
// https://cloud.google.com/iam/docs/audit-logging
var DeafMethods = []string{
	"google.logging.v2.ConfigServiceV2.DeleteSink",
	"google.logging.v2.ConfigServiceV2.UpdateSink",
	"google.pubsub.v1.Publisher.DeleteTopic",
	"google.pubsub.v1.Publisher.UpdateTopic",
	"google.pubsub.v1.Publisher.DetachSubscription",
	"google.pubsub.v1.Subscriber.DeleteSubscription",
	"google.pubsub.v1.Subscriber.UpdateSubscription",
	"google.cloud.eventarc.v1.Eventarc.DeleteTrigger",
	"google.cloud.eventarc.v1.Eventarc.UpdateTrigger",
	"google.cloud.run.v2.Services.DeleteService",
	"google.cloud.functions.v2.FunctionService.DeleteFunction",
	"google.iam.admin.v1.DisableServiceAccount",
	"google.iam.admin.v1.DeleteServiceAccount",
}

// DeafFilter is the deaf policy's log filter: an Admin Activity entry of
// one of DeafMethods on one of coopguard's resources — its topics by
// name, and the project's sinks, subscriptions and triggers whose id
// names coopguard (coopguard-NAME-sink, the dead-letter subscription, the
// functions' triggers and the Eventarc subscriptions named after them,
// the functions as Cloud Run services or through the Functions API), and
// coopguard's job accounts by email —
// by anyone but coopguard's
// provisioner, whose converge puts a sink's filter back. It reads only
// what Cloud Audit Logs writes, which no caller can write (FIDELITY.md),
// and it does not run through the sink, topics and subscriptions it
// watches: a deleted sink cannot route the entry of its own deletion.
func (s *Sandbox) DeafFilter() string {
	quote := func(items []string) string {
		q := make([]string, len(items))
		for i, it := range items {
			q[i] = fmt.Sprintf("%q", it)
		}
		return "(" + strings.Join(q, " OR ") + ")"
	}
	var topics []string
	for _, t := range []string{s.Topics.Alerts, s.Topics.Logs, s.Topics.Rotation, s.Topics.Incidents, s.Topics.FollowUp} {
		if t != "" && !slices.Contains(topics, s.TopicPath(t)) {
			topics = append(topics, s.TopicPath(t))
		}
	}
	named := "^projects/" + regexp.QuoteMeta(s.Project) + "/(sinks|subscriptions|locations/[^/]+/(triggers|services|functions))/[^/]*coopguard"
	accounts := make([]string, len(config.Accounts))
	for i, a := range config.Accounts {
		accounts[i] = regexp.QuoteMeta(config.AccountEmail(a, s.Project))
	}
	// The IAM API takes projects/-/ as well as the project id.
	jobs := "^projects/[^/]+/serviceAccounts/(" + strings.Join(accounts, "|") + ")$"
	return fmt.Sprintf(`logName=%q AND protoPayload.methodName=%s AND (protoPayload.resourceName=~%q OR protoPayload.resourceName=~%q OR protoPayload.resourceName=%s) AND NOT protoPayload.authenticationInfo.principalEmail=%q`,
		"projects/"+s.Project+"/logs/cloudaudit.googleapis.com%2Factivity", quote(DeafMethods), named, jobs, quote(topics),
		config.AccountEmail(config.AccountProvisioner, s.Project))
}

// deafPolicy is the log-match policy on the project's own Admin Activity
// log that tells the operator's channels ([coopguard.notify]) when
// coopguard's sink, topics, subscriptions or triggers are deleted or
// changed: the path that does not run through them.
type deafPolicy struct{ s *Sandbox }

func (r *deafPolicy) Kind() string   { return "alertPolicy" }
func (r *deafPolicy) Name() string   { return DeafPolicyName }
func (r *deafPolicy) Deps() []string { return nil }

func (r *deafPolicy) desired() *monitoringpb.AlertPolicy {
	s := r.s
	doc := &monitoringpb.AlertPolicy_Documentation{
		Subject: "coopguard: its log sink, topics, subscriptions, triggers, functions or accounts were changed in project " + s.Project,
		Content: fmt.Sprintf("## coopguard may be deaf\n\n"+
			"Someone deleted or changed coopguard's log sink, a Pub/Sub topic or subscription, an Eventarc trigger, or deleted a function or disabled or deleted an account coopguard runs as "+
			"in project `%s` (the Admin Activity audit log records who and what). "+
			"While they are gone or disabled, no audit entry reaches coopguard and nothing is contained.\n\n"+
			"See what is missing and the fix:\n\n"+
			"    coopguard status\n    coopguard posture\n\n"+
			"Then put it back: `coopguard provision` (sink, topics) or `make deploy` (functions, triggers), "+
			"and treat the change as an incident if nobody on your team made it.\n", s.Project),
		MimeType: "text/markdown",
	}
	return s.logMatchPolicy(DeafPolicyName, doc, map[string]string{NotifyLabel: "deaf"},
		"coopguard's sink, topics, subscriptions or triggers deleted or changed, or a function or job account deleted or disabled", s.DeafFilter(), monitoringpb.AlertPolicy_CRITICAL)
}

func (r *deafPolicy) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	return convergePolicy(ctx, c, r.s.Project, r.desired(), "coopguard's sink, topics, subscriptions, triggers changed → "+joinOrNone(r.s.NotifyChannels))
}
