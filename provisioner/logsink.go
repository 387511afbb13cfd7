package provisioner

import (
	"context"

	"cloud.google.com/go/logging/apiv2/loggingpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
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
	return observeSink(ctx, c, "projects/"+r.s.Project, &loggingpb.LogSink{
		Name:        r.Name(),
		Destination: r.destination(),
		Filter:      r.s.SinkFilter,
		Description: "coopguard: suspicious activity of sandbox " + r.s.Name + " to the responder",
	})
}
