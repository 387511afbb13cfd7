package posture

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// Finding is one reason coopguard cannot hear the sandbox, and its fix.
type Finding struct {
	// What is missing or off, naming the resource.
	What string `json:"what"`
	// Fix says how to put it back.
	Fix string `json:"fix"`
}

// Deaf says what keeps events about sb from reaching coopguard's
// functions: the log sink missing or disabled, the logs or alerts topic
// missing, or no subscription on one of them (each function's Eventarc
// trigger delivers through its own subscription on the topic, and goes
// with it). Nil means the pipeline is whole. A deleted sink or topic
// cannot carry the audit entry of its own deletion: this is read from
// the resources themselves, and the deaf alert policy watches the Admin
// Activity log (provisioner.DeafFilter).
func Deaf(ctx context.Context, c *gcp.Clients, sb *provisioner.Sandbox) ([]Finding, error) {
	const provision, deploy = "coopguard provision --config FILE", "make deploy (recreates the functions' Eventarc triggers and their subscriptions)"
	var out []Finding
	sink := "projects/" + sb.Project + "/sinks/" + sb.Sink()
	got, err := c.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: sink})
	switch {
	case retry.IsNotFound(err):
		out = append(out, Finding{"log sink " + sb.Sink() + " is missing: no audit entry reaches coopguard", provision})
	case err != nil:
		return nil, fmt.Errorf("read log sink %s: %w", sink, err)
	case got.GetDisabled():
		out = append(out, Finding{"log sink " + sb.Sink() + " is disabled: no audit entry reaches coopguard", provision})
	}
	topics := []struct{ id, carries string }{{sb.Topics.Logs, "audit entries"}, {sb.Topics.Alerts, "Monitoring alerts"}}
	subscribed := map[string]bool{}
	it := c.PubSub.SubscriptionAdminClient.ListSubscriptions(ctx, &pubsubpb.ListSubscriptionsRequest{Project: "projects/" + sb.Project})
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list the subscriptions of project %s: %w", sb.Project, err)
		}
		subscribed[s.GetTopic()] = true
	}
	for _, t := range topics {
		path := sb.TopicPath(t.id)
		_, err := c.PubSub.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: path})
		switch {
		case retry.IsNotFound(err):
			out = append(out, Finding{fmt.Sprintf("topic %s is missing: %s reach no function", t.id, t.carries), provision + ", then " + deploy})
		case err != nil:
			return nil, fmt.Errorf("read topic %s: %w", path, err)
		case !subscribed[path]:
			out = append(out, Finding{fmt.Sprintf("topic %s has no subscription: its function's trigger is gone and %s reach no function", t.id, t.carries), deploy})
		}
	}
	return out, nil
}

// listening: nothing keeps events about the sandbox from reaching
// coopguard (Deaf).
type listening struct{}

func (listening) Name() string { return "listening" }

func (listening) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	found, err := Deaf(ctx, c, in.Sandbox)
	if err != nil {
		return readError(err, "logging.sinks.get, pubsub.topics.get and pubsub.subscriptions.list")
	}
	if len(found) > 0 {
		f := found[0]
		what := f.What
		if len(found) > 1 {
			what += fmt.Sprintf(" (and %d more: coopguard status lists them)", len(found)-1)
		}
		return fail("coopguard is deaf: "+what, f.Fix)
	}
	return pass("log sink %s enabled; topics %s and %s exist, each with a subscription", in.Sandbox.Sink(), in.Sandbox.Topics.Logs, in.Sandbox.Topics.Alerts)
}
