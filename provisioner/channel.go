package provisioner

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// channel is the Monitoring notification channel that publishes alert
// incidents to the alerts topic.
type channel struct{ s *Sandbox }

func (r *channel) Kind() string   { return "notificationChannel" }
func (r *channel) Name() string   { return r.s.ChannelName() }
func (r *channel) Deps() []string { return []string{"topic/" + r.s.Topics.Alerts} }

// find returns the project's pubsub channel for the alerts topic, or nil.
func (r *channel) find(ctx context.Context, c *gcp.Clients) (*monitoringpb.NotificationChannel, error) {
	it := c.Channels.ListNotificationChannels(ctx, &monitoringpb.ListNotificationChannelsRequest{
		Name:   "projects/" + r.s.Project,
		Filter: `type = "pubsub"`,
	})
	for {
		ch, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if ch.GetLabels()["topic"] == r.s.TopicPath(r.s.Topics.Alerts) {
			return ch, nil
		}
	}
}

func (r *channel) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	got, err := r.find(ctx, c)
	if err != nil {
		return Change{}, err
	}
	if got != nil {
		r.s.setChannel(got.GetName())
		return Change{Action: None, Detail: got.GetName()}, nil
	}
	return Change{Action: Create, Detail: "pubsub channel to " + r.s.TopicPath(r.s.Topics.Alerts), Apply: func(ctx context.Context) error {
		// Channels have no client-chosen id, so re-check just before
		// creating: a converge that ran meanwhile may have made it.
		if got, err := r.find(ctx, c); err != nil || got != nil {
			if got != nil {
				r.s.setChannel(got.GetName())
			}
			return err
		}
		ch, err := c.Channels.CreateNotificationChannel(ctx, &monitoringpb.CreateNotificationChannelRequest{
			Name: "projects/" + r.s.Project,
			NotificationChannel: &monitoringpb.NotificationChannel{
				Type:        "pubsub",
				DisplayName: r.Name(),
				Description: "coopguard: Monitoring incidents to the responder",
				Labels:      map[string]string{"topic": r.s.TopicPath(r.s.Topics.Alerts)},
				UserLabels:  map[string]string{"coopguard": "true"},
			},
		})
		if err != nil {
			return fmt.Errorf("create notification channel: %w", err)
		}
		r.s.setChannel(ch.GetName())
		return nil
	}}, nil
}
