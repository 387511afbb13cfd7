package posture

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// logSink: the sandbox's log sink exists, is enabled, has a filter, and
// routes to coopguard's logs topic, which exists.
type logSink struct{}

func (logSink) Name() string { return "log-sink" }

func (logSink) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	name := "projects/" + in.Project() + "/sinks/" + in.Sandbox.Sink()
	topic := in.Sandbox.TopicPath(in.Sandbox.Topics.Logs)
	want := "pubsub.googleapis.com/" + topic
	const provision = "restore it: coopguard provision --config FILE"
	sink, err := c.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: name})
	if retry.IsNotFound(err) {
		return fail("no log sink "+name, provision)
	}
	if err != nil {
		return readError(fmt.Errorf("read log sink %s: %w", name, err), "logging.sinks.get")
	}
	var bad []string
	if sink.GetDisabled() {
		bad = append(bad, "disabled")
	}
	if sink.GetDestination() != want {
		bad = append(bad, "routes to "+sink.GetDestination()+", not "+want)
	}
	if strings.TrimSpace(sink.GetFilter()) == "" {
		// An empty filter routes every entry of the project: the
		// responder drowns, and the detection rules' filter is gone.
		bad = append(bad, "has no filter")
	}
	if len(bad) > 0 {
		return fail("log sink "+in.Sandbox.Sink()+" "+strings.Join(bad, ", "), provision)
	}
	if _, err := c.PubSub.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic}); retry.IsNotFound(err) {
		return fail(fmt.Sprintf("log sink %s routes to %s, which does not exist", in.Sandbox.Sink(), topic), provision)
	} else if err != nil {
		return readError(fmt.Errorf("read topic %s: %w", topic, err), "pubsub.topics.get")
	}
	if r, ok := watchSinkResult(ctx, c, in, want); !ok {
		return r
	}
	return pass("log sink %s enabled, routes to %s", in.Sandbox.Sink(), want)
}
