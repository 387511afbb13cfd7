package posture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// alertPolicies: the sandbox's alert policy (CPU above 90%) exists, is
// enabled, and notifies an enabled Pub/Sub channel publishing to
// coopguard's alerts topic, which exists.
type alertPolicies struct{}

func (alertPolicies) Name() string { return "alert-policies" }

func (alertPolicies) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	name := in.Sandbox.AlertPolicyName()
	topic := in.Sandbox.TopicPath(in.Sandbox.Topics.Alerts)
	const provision = "restore it: coopguard provision --config FILE"
	it := c.AlertPolicies.ListAlertPolicies(ctx, &monitoringpb.ListAlertPoliciesRequest{
		Name:   "projects/" + in.Project(),
		Filter: fmt.Sprintf("display_name = %q", name),
	})
	var pol *monitoringpb.AlertPolicy
	for {
		p, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return readError(fmt.Errorf("list alert policies of project %s: %w", in.Project(), err), "monitoring.alertPolicies.list")
		}
		if p.GetDisplayName() == name {
			pol = p
			break
		}
	}
	if pol == nil {
		return fail(fmt.Sprintf("no alert policy %q in project %s", name, in.Project()), provision)
	}
	if !pol.GetEnabled().GetValue() {
		return fail(fmt.Sprintf("alert policy %q (%s) is disabled", name, pol.GetName()),
			fmt.Sprintf("gcloud alpha monitoring policies update %s --enabled, or coopguard provision --config FILE", pol.GetName()))
	}
	var seen []string
	channel := ""
	for _, chName := range pol.GetNotificationChannels() {
		ch, err := c.Channels.GetNotificationChannel(ctx, &monitoringpb.GetNotificationChannelRequest{Name: chName})
		if retry.IsNotFound(err) {
			seen = append(seen, chName+" (missing)")
			continue
		}
		if err != nil {
			return readError(fmt.Errorf("read notification channel %s: %w", chName, err), "monitoring.notificationChannels.get")
		}
		desc := fmt.Sprintf("%s (%s → %s)", chName, ch.GetType(), ch.GetLabels()["topic"])
		// enabled is a wrapper: unset means enabled.
		if ch.GetEnabled() != nil && !ch.GetEnabled().GetValue() {
			desc += " disabled"
		} else if ch.GetType() == "pubsub" && ch.GetLabels()["topic"] == topic {
			channel = chName
		}
		seen = append(seen, desc)
	}
	if channel == "" {
		return fail(fmt.Sprintf("alert policy %q notifies %s, no enabled channel to %s", name, joinOr(seen, "no channel"), topic), provision)
	}
	if _, err := c.PubSub.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic}); retry.IsNotFound(err) {
		return fail(fmt.Sprintf("alert policy %q notifies %s, but topic %s does not exist", name, channel, topic), provision)
	} else if err != nil {
		return readError(fmt.Errorf("read topic %s: %w", topic, err), "pubsub.topics.get")
	}
	return pass("alert policy %q (%s) enabled, notifies %s → %s", name, pol.GetName(), channel, strings.TrimPrefix(topic, "projects/"+in.Project()+"/topics/"))
}
