package audit_test

import (
	"context"
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestPubSubAdministrationIsAudited: topic and subscription administration
// (create, update, delete) on the gated address, through the official client, is Admin Activity
// under pubsub.googleapis.com with methodName google.pubsub.v1.<svc>.<rpc>
// and the subscription as resource; the sandbox's account, holding no
// Pub/Sub role, is refused (status 7); publishing is not served there.
func TestPubSubAdministrationIsAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dial := func(principal string) *pubsub.Client {
		c, err := pubsub.NewClient(ctx, project, append(gcp.EmulatedGRPC(w.emu.GRPCAddr), gcp.EmulatedIdentity(principal))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	op := dial(emulator.Operator)
	topic, sub := "projects/"+project+"/topics/coopguard-alerts", "projects/"+project+"/subscriptions/eventarc-x-coopguard-alerts-sub"
	if _, err := op.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := op.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	sbx := dial(sandbox)
	err := sbx.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: sub})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("the sandbox's account deleting %s: %v, want PermissionDenied", sub, err)
	}
	if _, err := op.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: &pubsubpb.Subscription{Name: sub, PushConfig: &pubsubpb.PushConfig{PushEndpoint: "https://198.51.100.23/push"}},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config"}}}); err != nil {
		t.Fatal(err)
	}
	if err := op.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: sub}); err != nil {
		t.Fatal(err)
	}
	if _, err := op.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: sub}); status.Code(err) != codes.NotFound {
		t.Errorf("GetSubscription after the delete: %v, want NotFound", err)
	}
	if _, err := op.Publisher(topic).Publish(ctx, &pubsub.Message{Data: []byte("x")}).Get(ctx); status.Code(err) != codes.Unimplemented {
		t.Errorf("Publish on the gated address: %v, want Unimplemented", err)
	}
	for _, m := range []string{"google.pubsub.v1.Subscriber.UpdateSubscription", "google.pubsub.v1.Subscriber.DeleteSubscription"} {
		got := w.entries(m)
		if len(got) == 0 {
			t.Errorf("no audit entry of %s", m)
			continue
		}
		last := got[len(got)-1]
		if last.GetServiceName() != "pubsub.googleapis.com" || last.GetResourceName() != sub || last.GetStatus().GetCode() != 0 ||
			last.GetAuthenticationInfo().GetPrincipalEmail() != emulator.Operator {
			t.Errorf("%s entry = %v, want the operator's, on %s, OK", m, last, sub)
		}
		if n := w.logNameOf(m); n != "projects/"+project+"/logs/cloudaudit.googleapis.com%2Factivity" {
			t.Errorf("%s logged in %s, want the Admin Activity log", m, n)
		}
	}
	// CreateSubscription checks attachSubscription on the topic, so its
	// entry names the topic a new subscription reads from.
	var onTopic bool
	for _, e := range w.entries("google.pubsub.v1.Subscriber.CreateSubscription") {
		for _, a := range e.GetAuthorizationInfo() {
			if a.GetPermission() == "pubsub.topics.attachSubscription" {
				onTopic = a.GetResource() == topic
			}
		}
	}
	if !onTopic {
		t.Errorf("CreateSubscription entries %v: want attachSubscription checked on %s", w.entries("google.pubsub.v1.Subscriber.CreateSubscription"), topic)
	}
	if denied := w.entries("google.pubsub.v1.Subscriber.DeleteSubscription")[0]; denied.GetStatus().GetCode() != 7 ||
		denied.GetAuthenticationInfo().GetPrincipalEmail() != sandbox {
		t.Errorf("the refused delete's entry = %v, want the sandbox's, status 7", denied)
	}
}
