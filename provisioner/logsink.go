package provisioner

import (
	"context"
	"fmt"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// logSink routes the log entries the detection rules look at to the logs
// topic.
type logSink struct{ s *Sandbox }

func (r *logSink) Kind() string   { return "logSink" }
func (r *logSink) Name() string   { return r.s.Sink() }
func (r *logSink) Deps() []string { return []string{"topic/" + r.s.Topics.Logs} }

func (r *logSink) destination() string {
	return "pubsub.googleapis.com/" + r.s.TopicPath(r.s.Topics.Logs)
}

func (r *logSink) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	parent := "projects/" + r.s.Project
	got, err := c.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: parent + "/sinks/" + r.Name()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: "to " + r.destination(), Apply: func(ctx context.Context) error {
			_, err := c.LogConfig.CreateSink(ctx, &loggingpb.CreateSinkRequest{
				Parent:               parent,
				UniqueWriterIdentity: true,
				Sink: &loggingpb.LogSink{
					Name:        r.Name(),
					Destination: r.destination(),
					Filter:      r.s.SinkFilter,
					Description: "coopguard: suspicious activity of sandbox " + r.s.Name + " to the responder",
				},
			})
			if retry.IsAlreadyExists(err) {
				return nil
			}
			return err
		}}, nil
	case err != nil:
		return Change{}, err
	}
	var mask []string
	if got.GetDestination() != r.destination() {
		mask = append(mask, "destination")
	}
	if got.GetFilter() != r.s.SinkFilter {
		mask = append(mask, "filter")
	}
	if got.GetDisabled() {
		mask = append(mask, "disabled")
	}
	if len(mask) == 0 {
		return Change{Action: None, Detail: "to " + got.GetDestination()}, nil
	}
	return Change{Action: Update, Detail: fmt.Sprintf("restore %v", mask), Apply: func(ctx context.Context) error {
		// The sink was created with a unique writer identity; an update
		// that does not send it again is an error (sinks.update reference).
		_, err := c.LogConfig.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{
			SinkName:             parent + "/sinks/" + r.Name(),
			UniqueWriterIdentity: true,
			Sink: &loggingpb.LogSink{
				Name: r.Name(), Destination: r.destination(), Filter: r.s.SinkFilter, Disabled: false,
				Description: got.GetDescription(),
			},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
		})
		return err
	}}, nil
}
