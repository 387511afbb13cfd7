package provisioner

import (
	"context"
	"fmt"
	"regexp"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// WatchSink is the name of the second sink in a sandbox's own project:
// it routes the changes to the sandbox's two sinks to coopguard.
func (s *Sandbox) WatchSink() string { return derive(s.Name, "watch") }

// watchSinkMethods are the Admin Activity methodNames that narrow, disable,
// redirect or remove a sink (a sink disabled or refiltered is an
// UpdateSink): https://cloud.google.com/logging/docs/audit-logging.
var watchSinkMethods = []string{
	"google.logging.v2.ConfigServiceV2.DeleteSink",
	"google.logging.v2.ConfigServiceV2.UpdateSink",
}

// WatchFilter is the watch sink's filter: an Admin Activity entry of the
// sandbox's project that updates or deletes its detection sink or the
// watch sink itself, by anyone but coopguard's provisioner (whose
// converge puts them back). A sink does not route the entry of its own
// deletion, and the home project's deaf policy does not read a sandbox
// project's log: with two sinks each carries the other's change, so
// removing both takes two calls and the first reaches coopguard, where
// the defence rules (functions/detect) know both names. Only Cloud Audit
// Logs writes that log; nothing the sandbox's account writes matches.
func (s *Sandbox) WatchFilter() string {
	names := regexp.QuoteMeta(s.Sink()) + "|" + regexp.QuoteMeta(s.WatchSink())
	return fmt.Sprintf(`logName=%q AND (protoPayload.methodName=%q OR protoPayload.methodName=%q) AND protoPayload.resourceName=~%q AND NOT protoPayload.authenticationInfo.principalEmail=%q`,
		"projects/"+s.Project+"/logs/cloudaudit.googleapis.com%2Factivity", watchSinkMethods[0], watchSinkMethods[1],
		"/sinks/("+names+")$", s.provisionerAccount())
}

// watchSink is that second sink, in a sandbox's own project only (in
// coopguard's project the deaf policy watches the sink). Its writer
// identity gets its own publisher grant (sinkWriter).
type watchSink struct{ s *Sandbox }

func (r *watchSink) Kind() string   { return "logSink" }
func (r *watchSink) Name() string   { return r.s.WatchSink() }
func (r *watchSink) Deps() []string { return []string{"topic/" + r.s.Topics.Logs} }

func (r *watchSink) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	return observeSink(ctx, c, "projects/"+r.s.Project, &loggingpb.LogSink{
		Name:        r.Name(),
		Destination: "pubsub.googleapis.com/" + r.s.TopicPath(r.s.Topics.Logs),
		Filter:      r.s.WatchFilter(),
		Description: "coopguard: changes to the sinks of sandbox " + r.s.Name + " to the responder",
	})
}

// observeSink plans the sink want under parent: created with a unique
// writer identity when absent, its destination and filter put back and
// re-enabled when changed.
func observeSink(ctx context.Context, c *gcp.Clients, parent string, want *loggingpb.LogSink) (Change, error) {
	name := parent + "/sinks/" + want.GetName()
	got, err := c.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: name})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: "to " + want.GetDestination(), Apply: func(ctx context.Context) error {
			_, err := c.LogConfig.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: parent, UniqueWriterIdentity: true, Sink: want})
			if retry.IsAlreadyExists(err) {
				return nil
			}
			return err
		}}, nil
	case err != nil:
		return Change{}, err
	}
	var mask []string
	if got.GetDestination() != want.GetDestination() {
		mask = append(mask, "destination")
	}
	if got.GetFilter() != want.GetFilter() {
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
			SinkName:             name,
			UniqueWriterIdentity: true,
			Sink: &loggingpb.LogSink{
				Name: want.GetName(), Destination: want.GetDestination(), Filter: want.GetFilter(), Disabled: false,
				Description: got.GetDescription(),
			},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
		})
		return err
	}}, nil
}
