package provisioner

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// DeadLetterSubscription is the subscription on deploy's dead-letter topic
// (config.DeadLetterSubscription): Pub/Sub moves an event there after
// MAX_DELIVERY_ATTEMPTS failed deliveries to a function.
const DeadLetterSubscription = config.DeadLetterSubscription

// DeadLetterPolicyName is the display name of the policy that tells the
// operator of dead-lettered events; one per project, shared by sandboxes.
const DeadLetterPolicyName = "coopguard dead-letter events"

// DeadLetterFilter is the dead-letter policy's metric filter: messages
// waiting in the dead-letter subscription.
const DeadLetterFilter = `resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "` + DeadLetterSubscription +
	`" AND metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"`

// deadLetterPolicy tells the operator's channels when an event lands in
// the dead-letter subscription: something coopguard could not process.
type deadLetterPolicy struct{ s *Sandbox }

func (r *deadLetterPolicy) Kind() string   { return "alertPolicy" }
func (r *deadLetterPolicy) Name() string   { return DeadLetterPolicyName }
func (r *deadLetterPolicy) Deps() []string { return nil }

func (r *deadLetterPolicy) desired() *monitoringpb.AlertPolicy {
	return &monitoringpb.AlertPolicy{
		DisplayName: DeadLetterPolicyName,
		Documentation: &monitoringpb.AlertPolicy_Documentation{
			Subject: "coopguard: events in the dead-letter subscription " + DeadLetterSubscription,
			Content: fmt.Sprintf("## coopguard could not process an event\n\n"+
				"An alert, log entry or rotation event failed every delivery attempt and was moved to `%s` in project `%s`. "+
				"The sandbox it was about may not have been contained.\n\n"+
				"See what it was (this acknowledges nothing):\n\n"+
				"    gcloud pubsub subscriptions pull %s --project=%s --limit=10\n\n"+
				"Then check the sandbox: `coopguard status`, and the responder's logs for the error.\n",
				DeadLetterSubscription, r.s.Project, DeadLetterSubscription, r.s.Project),
			MimeType: "text/markdown",
		},
		UserLabels: map[string]string{NotifyLabel: "dead-letter"},
		Combiner:   monitoringpb.AlertPolicy_OR,
		Conditions: []*monitoringpb.AlertPolicy_Condition{{
			DisplayName: "undelivered events in " + DeadLetterSubscription,
			Condition: &monitoringpb.AlertPolicy_Condition_ConditionThreshold{ConditionThreshold: &monitoringpb.AlertPolicy_Condition_MetricThreshold{
				Filter:         DeadLetterFilter,
				Comparison:     monitoringpb.ComparisonType_COMPARISON_GT,
				ThresholdValue: 0,
				Duration:       durationpb.New(0),
				Aggregations: []*monitoringpb.Aggregation{{
					AlignmentPeriod:  durationpb.New(60e9),
					PerSeriesAligner: monitoringpb.Aggregation_ALIGN_MAX,
				}},
				Trigger: &monitoringpb.AlertPolicy_Condition_Trigger{Type: &monitoringpb.AlertPolicy_Condition_Trigger_Count{Count: 1}},
			}},
		}},
		AlertStrategy:        &monitoringpb.AlertPolicy_AlertStrategy{AutoClose: durationpb.New(LogAlertAutoClose)},
		NotificationChannels: slices.Clone(r.s.NotifyChannels),
		Severity:             monitoringpb.AlertPolicy_ERROR,
		Enabled:              wrapperspb.Bool(true),
	}
}

func (r *deadLetterPolicy) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	return convergePolicy(ctx, c, r.s.Project, r.desired(), "events in "+DeadLetterSubscription+" → "+joinOrNone(r.s.NotifyChannels))
}
