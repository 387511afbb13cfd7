package posture

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/logging/apiv2/loggingpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// watchSinkResult checks, for a sandbox in a project of its own, the
// watch sink (provisioner.WatchFilter): present, enabled, routing to
// want, with coopguard's filter. Without it a change to the detection
// sink there reaches nobody. ok is true when it is whole, or when the
// sandbox is in coopguard's project (the deaf policy watches that one).
func watchSinkResult(ctx context.Context, c *gcp.Clients, in *Input, want string) (r Result, ok bool) {
	sb := in.Sandbox
	if !sb.OwnProject() {
		return Result{}, true
	}
	const provision = "restore it: coopguard provision --config FILE"
	name := "projects/" + sb.Project + "/sinks/" + sb.WatchSink()
	sink, err := c.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: name})
	if retry.IsNotFound(err) {
		return fail("no watch sink "+name+": a change to log sink "+sb.Sink()+" reaches nobody", provision), false
	}
	if err != nil {
		return readError(fmt.Errorf("read log sink %s: %w", name, err), "logging.sinks.get"), false
	}
	var bad []string
	if sink.GetDisabled() {
		bad = append(bad, "disabled")
	}
	if sink.GetDestination() != want {
		bad = append(bad, "routes to "+sink.GetDestination()+", not "+want)
	}
	if sink.GetFilter() != sb.WatchFilter() {
		bad = append(bad, "has another filter than coopguard's")
	}
	if len(bad) > 0 {
		return fail("watch sink "+sb.WatchSink()+" "+strings.Join(bad, ", "), provision), false
	}
	return Result{}, true
}
