package provisioner

import (
	"context"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// topic is one of coopguard's Pub/Sub topics (alerts, logs, rotation,
// incidents).
type topic struct {
	s  *Sandbox
	id string
}

func (r *topic) Kind() string   { return "topic" }
func (r *topic) Name() string   { return r.id }
func (r *topic) Deps() []string { return nil }

func (r *topic) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	_, err := c.PubSub.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: r.s.TopicPath(r.id)})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: r.s.TopicPath(r.id), Apply: func(ctx context.Context) error {
			_, err := c.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{
				Name:   r.s.TopicPath(r.id),
				Labels: map[string]string{"coopguard": "true"},
			})
			if retry.IsAlreadyExists(err) {
				return nil // a concurrent converge made it
			}
			return err
		}}, nil
	case err != nil:
		return Change{}, err
	}
	return Change{Action: None, Detail: r.s.TopicPath(r.id)}, nil
}
