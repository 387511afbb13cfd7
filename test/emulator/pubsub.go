package emulator

import (
	"context"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// registerPubSubAdmin serves pstest's topic and subscription
// administration on g, behind the gate: a call there is authenticated,
// authorised and audited like any other fake's (the drills' changes to
// coopguard's topics and subscriptions). Publishing and pulling are not
// served there (UNIMPLEMENTED): coopguard's clients and the emulated
// Eventarc use pstest's own listener (PubSubAddr), which is not gated.
// ModifyPushConfig is not served: pstest does not implement it (a push
// endpoint is set with UpdateSubscription's push_config).
func registerPubSubAdmin(g *grpc.Server, ps *pstest.GServer) {
	pubsubpb.RegisterPublisherServer(g, &topicAdmin{ps: ps})
	pubsubpb.RegisterSubscriberServer(g, &subscriptionAdmin{ps: ps})
}

// topicAdmin is the Publisher service's administration methods.
type topicAdmin struct {
	pubsubpb.UnimplementedPublisherServer
	ps *pstest.GServer
}

func (a *topicAdmin) CreateTopic(ctx context.Context, t *pubsubpb.Topic) (*pubsubpb.Topic, error) {
	return a.ps.CreateTopic(ctx, t)
}

func (a *topicAdmin) GetTopic(ctx context.Context, r *pubsubpb.GetTopicRequest) (*pubsubpb.Topic, error) {
	return a.ps.GetTopic(ctx, r)
}

func (a *topicAdmin) UpdateTopic(ctx context.Context, r *pubsubpb.UpdateTopicRequest) (*pubsubpb.Topic, error) {
	return a.ps.UpdateTopic(ctx, r)
}

func (a *topicAdmin) DeleteTopic(ctx context.Context, r *pubsubpb.DeleteTopicRequest) (*emptypb.Empty, error) {
	return a.ps.DeleteTopic(ctx, r)
}

// subscriptionAdmin is the Subscriber service's administration methods.
type subscriptionAdmin struct {
	pubsubpb.UnimplementedSubscriberServer
	ps *pstest.GServer
}

func (a *subscriptionAdmin) CreateSubscription(ctx context.Context, s *pubsubpb.Subscription) (*pubsubpb.Subscription, error) {
	return a.ps.CreateSubscription(ctx, s)
}

func (a *subscriptionAdmin) GetSubscription(ctx context.Context, r *pubsubpb.GetSubscriptionRequest) (*pubsubpb.Subscription, error) {
	return a.ps.GetSubscription(ctx, r)
}

func (a *subscriptionAdmin) UpdateSubscription(ctx context.Context, r *pubsubpb.UpdateSubscriptionRequest) (*pubsubpb.Subscription, error) {
	return a.ps.UpdateSubscription(ctx, r)
}

func (a *subscriptionAdmin) DeleteSubscription(ctx context.Context, r *pubsubpb.DeleteSubscriptionRequest) (*emptypb.Empty, error) {
	return a.ps.DeleteSubscription(ctx, r)
}
