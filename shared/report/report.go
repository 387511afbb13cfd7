// Package report copies incident reports to where people and machines
// look: a JSON entry in Cloud Logging (log coopguard-incidents, with Cloud
// Logging's severity) as the human-readable audit trail, a message on the
// coopguard-incidents Pub/Sub topic for notification fan-out, and a custom
// metric. They are copies: the record is the incident store (package
// store), and nothing is ever read back from them, since the sandbox's
// account may write that log too.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// LogID is the Cloud Logging log that holds incident reports.
const LogID = incident.ReportLogID

// MetricType is the custom metric written once per report.
const MetricType = "custom.googleapis.com/coopguard/incident"

// Recorder writes copies of incident reports for one project.
type Recorder struct {
	c       *gcp.Clients
	project string
	topic   string
	pub     *pubsub.Publisher
}

// New returns a Recorder publishing to the topic id incidentsTopic.
func New(c *gcp.Clients, incidentsTopic string) *Recorder {
	pub := c.PubSub.Publisher(incidentsTopic)
	// Reports are small and rare; send each at once rather than batching.
	pub.PublishSettings.DelayThreshold = time.Millisecond
	pub.PublishSettings.CountThreshold = 1
	return &Recorder{c: c, project: c.Project, topic: incidentsTopic, pub: pub}
}

// Stop flushes and stops the publisher.
func (r *Recorder) Stop() { r.pub.Stop() }

// LogName is the full log name of the incidents log.
func (r *Recorder) LogName() string { return "projects/" + r.project + "/logs/" + LogID }

// Record writes rep to Cloud Logging and the incidents topic, and writes
// the metric. The log entry's failure is returned (the caller retries it);
// the topic and the metric are best effort and only logged.
func (r *Recorder) Record(ctx context.Context, rep *incident.Report) error {
	log := logger.FromContext(ctx)
	raw, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode report %s: %w", rep.Incident.ID, err)
	}
	var payload structpb.Struct
	if err := protojson.Unmarshal(raw, &payload); err != nil {
		return fmt.Errorf("encode report %s: %w", rep.Incident.ID, err)
	}
	sev := ltype.LogSeverity(ltype.LogSeverity_value[rep.Severity()])
	pubRes := r.pub.Publish(ctx, &pubsub.Message{
		Data: raw,
		Attributes: map[string]string{
			"type": "incident", "incident": rep.Incident.ID, "outcome": rep.Outcome,
			"playbook": rep.Incident.Playbook, "severity": rep.Severity(),
		},
	})
	_, err = r.c.Logging.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{
		LogName:  r.LogName(),
		Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": r.project}},
		Labels:   map[string]string{"incident": rep.Incident.ID, "outcome": rep.Outcome, "playbook": rep.Incident.Playbook, "actions": actionsLabel(rep)},
		Entries: []*loggingpb.LogEntry{{
			Severity:  sev,
			Timestamp: timestamppb.New(rep.FinishedAt),
			InsertId:  rep.Incident.LabelValue() + "-" + strconv.FormatInt(rep.FinishedAt.UnixNano(), 36),
			Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: &payload},
		}},
	})
	if err != nil {
		err = fmt.Errorf("write incident %s to log %s: %w", rep.Incident.ID, LogID, err)
	}
	if _, perr := pubRes.Get(ctx); perr != nil {
		log.Warn("incident not published: subscribers of the topic miss it; check the topic exists and the responder may publish to it",
			"incident", rep.Incident.ID, "topic", r.topic, "error", perr)
	}
	if merr := r.writeMetric(ctx, rep); merr != nil {
		log.Debug("incident metric not written", "incident", rep.Incident.ID, "error", merr)
	}
	return err
}

// actionsLabel is what was done, "stop-vm done, disable-secrets failed",
// for the notification that the incident alert policy sends (label
// extractors read entry labels, which are strings).
func actionsLabel(rep *incident.Report) string {
	parts := make([]string, 0, len(rep.Actions))
	for _, a := range rep.Actions {
		parts = append(parts, a.Action+" "+a.Result)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// writeMetric writes one gauge point: the containment seconds, labelled
// with the playbook, source and outcome.
func (r *Recorder) writeMetric(ctx context.Context, rep *incident.Report) error {
	return r.c.Metrics.CreateTimeSeries(ctx, &monitoringpb.CreateTimeSeriesRequest{
		Name: "projects/" + r.project,
		TimeSeries: []*monitoringpb.TimeSeries{{
			Metric: &metric.Metric{Type: MetricType, Labels: map[string]string{
				"playbook": rep.Incident.Playbook, "source": rep.Incident.Source, "outcome": rep.Outcome,
			}},
			Resource:   &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": r.project}},
			MetricKind: metric.MetricDescriptor_GAUGE,
			ValueType:  metric.MetricDescriptor_DOUBLE,
			Points: []*monitoringpb.Point{{
				Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(rep.FinishedAt)},
				Value:    &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: rep.ContainmentSeconds}},
			}},
		}},
	})
}
