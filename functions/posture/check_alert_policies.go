package posture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// alertPolicies: the sandbox's alert policy (CPU above 90%) exists, is
// enabled, and notifies an enabled Pub/Sub channel publishing to
// coopguard's alerts topic, which exists; and people are told: the
// incident policy (a log match on the sandbox's incident reports) and the
// dead-letter policy are enabled and notify every channel of
// [coopguard.notify], each of which exists and is enabled.
type alertPolicies struct{}

func (alertPolicies) Name() string { return "alert-policies" }

func (alertPolicies) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	name := in.Sandbox.AlertPolicyName()
	topic := in.Sandbox.TopicPath(in.Sandbox.Topics.Alerts)
	const provision = "restore it: coopguard provision --config FILE"
	// One list serves the three policies this check reads.
	policies, err := alertPoliciesByName(ctx, c, in.Project())
	if err != nil {
		return readError(fmt.Errorf("list alert policies of project %s: %w", in.Project(), err), "monitoring.alertPolicies.list")
	}
	pol := policies[name]
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
	told, bad := notifyPolicies(ctx, c, in, policies)
	if bad != nil {
		return *bad
	}
	return pass("alert policy %q (%s) enabled, notifies %s → %s; %s", name, pol.GetName(), channel, strings.TrimPrefix(topic, "projects/"+in.Project()+"/topics/"), told)
}

// notifyPolicies checks the two policies that tell people, returning the
// evidence when both hold, else the failing result.
func notifyPolicies(ctx context.Context, c *gcp.Clients, in *Input, policies map[string]*monitoringpb.AlertPolicy) (string, *Result) {
	const provision = "restore it: coopguard provision --config FILE"
	channels := in.Sandbox.NotifyChannels
	if len(channels) == 0 {
		r := fail("no [coopguard.notify] channels: nobody is told of incidents or dead-lettered events",
			"list your notification channels (gcloud beta monitoring channels list) in [coopguard.notify] channels, then coopguard provision --config FILE")
		return "", &r
	}
	for _, ch := range channels {
		got, err := c.Channels.GetNotificationChannel(ctx, &monitoringpb.GetNotificationChannelRequest{Name: ch})
		if retry.IsNotFound(err) {
			r := fail(fmt.Sprintf("notification channel %s ([coopguard.notify]) does not exist", ch),
				"create it or fix the name in [coopguard.notify] channels (gcloud beta monitoring channels list)")
			return "", &r
		}
		if err != nil {
			r := readError(fmt.Errorf("read notification channel %s: %w", ch, err), "monitoring.notificationChannels.get")
			return "", &r
		}
		if got.GetEnabled() != nil && !got.GetEnabled().GetValue() {
			r := fail(fmt.Sprintf("notification channel %s (%s) is disabled: nobody is told", ch, got.GetType()),
				fmt.Sprintf("gcloud beta monitoring channels update %s --enabled", ch))
			return "", &r
		}
	}
	want := []struct {
		name string
		// cond reports whether the condition is coopguard's.
		cond func(*monitoringpb.AlertPolicy_Condition) bool
	}{
		{in.Sandbox.IncidentPolicyName(), func(c *monitoringpb.AlertPolicy_Condition) bool {
			return c.GetConditionMatchedLog().GetFilter() == in.Sandbox.IncidentFilter()
		}},
		{provisioner.DeadLetterPolicyName, func(c *monitoringpb.AlertPolicy_Condition) bool {
			return c.GetConditionThreshold().GetFilter() == provisioner.DeadLetterFilter
		}},
		{provisioner.DeafPolicyName, func(c *monitoringpb.AlertPolicy_Condition) bool {
			return c.GetConditionMatchedLog().GetFilter() == in.Sandbox.DeafFilter()
		}},
		{provisioner.ReviewPolicyName, func(c *monitoringpb.AlertPolicy_Condition) bool {
			return c.GetConditionMatchedLog().GetFilter() == in.Sandbox.ReviewFilter()
		}},
	}
	var names []string
	for _, w := range want {
		pol := policies[w.name]
		switch {
		case pol == nil:
			r := fail(fmt.Sprintf("no alert policy %q: nobody is told", w.name), provision)
			return "", &r
		case !pol.GetEnabled().GetValue():
			r := fail(fmt.Sprintf("alert policy %q (%s) is disabled", w.name, pol.GetName()), provision)
			return "", &r
		case len(pol.GetConditions()) != 1 || !w.cond(pol.GetConditions()[0]):
			r := fail(fmt.Sprintf("alert policy %q (%s) no longer has coopguard's condition", w.name, pol.GetName()), provision)
			return "", &r
		}
		for _, ch := range channels {
			if !slices.Contains(pol.GetNotificationChannels(), ch) {
				r := fail(fmt.Sprintf("alert policy %q does not notify %s", w.name, ch), provision)
				return "", &r
			}
		}
		names = append(names, fmt.Sprintf("%q", w.name))
	}
	return fmt.Sprintf("%s notify %s", strings.Join(names, ", "), strings.Join(channels, ", ")), nil
}

// alertPoliciesByName returns the project's alert policies by display
// name (the first of any duplicates, in the service's order).
func alertPoliciesByName(ctx context.Context, c *gcp.Clients, project string) (map[string]*monitoringpb.AlertPolicy, error) {
	out := map[string]*monitoringpb.AlertPolicy{}
	it := c.AlertPolicies.ListAlertPolicies(ctx, &monitoringpb.ListAlertPoliciesRequest{Name: "projects/" + project, PageSize: 1000})
	for {
		p, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if _, dup := out[p.GetDisplayName()]; !dup {
			out[p.GetDisplayName()] = p
		}
	}
}
