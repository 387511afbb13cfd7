package provisioner

import (
	"context"
	"fmt"

	"cloud.google.com/go/logging/apiv2/loggingpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// publisherRole lets a sink's writer identity publish to a topic.
const publisherRole = "roles/pubsub.publisher"

// sinkWriter lets the writer identity of the sink in the sandbox's own
// project (logSink: created there with a unique writer identity, routing
// to the logs topic in coopguard's project) publish to that topic, on the
// topic's policy only. A sink per project rather than one aggregated
// folder sink: Provision creates it in a project it creates or adopts,
// with no folder-level Logging admin, at a constant cost per project.
// sink names the sink: the detection sink or the watch sink (watchsink.go).
type sinkWriter struct {
	s    *Sandbox
	sink string
}

func (r *sinkWriter) Kind() string { return "sink-writer" }
func (r *sinkWriter) Name() string { return r.sink }
func (r *sinkWriter) Deps() []string {
	// Both sinks are of kind logSink (logsink.go, watchsink.go).
	return []string{"logSink/" + r.sink, "topic/" + r.s.Topics.Logs}
}

func (r *sinkWriter) topic() string { return r.s.TopicPath(r.s.Topics.Logs) }

// writer reads the sink's writer identity ("" while there is no sink).
func (r *sinkWriter) writer(ctx context.Context, c *gcp.Clients) (string, error) {
	got, err := c.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: "projects/" + r.s.Project + "/sinks/" + r.sink})
	if retry.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return got.GetWriterIdentity(), nil
}

func (r *sinkWriter) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	w, err := r.writer(ctx, c)
	if err != nil {
		return Change{}, err
	}
	detail := "the sink's writer identity may publish to " + r.topic()
	if w != "" {
		ok, err := topicGrants(ctx, c, r.topic(), w)
		if err != nil {
			return Change{}, err
		}
		if ok {
			return Change{Action: None, Detail: detail}, nil
		}
	}
	return Change{Action: Update, Detail: "let " + detail, Apply: func(ctx context.Context) error {
		w, err := r.writer(ctx, c)
		if err != nil {
			return err
		}
		if w == "" {
			return fmt.Errorf("sink %s of project %s has no writer identity: recreate it with a unique writer identity (Provision does)", r.sink, r.s.Project)
		}
		return grantPublisher(ctx, c, r.topic(), w)
	}}, nil
}
