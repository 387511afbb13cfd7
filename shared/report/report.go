// Package report records incident reports where people and machines look:
// a JSON entry in Cloud Logging (log coopguard-incidents, with Cloud
// Logging's severity), a message on the coopguard-incidents Pub/Sub topic
// for notification fan-out, and a custom metric. It also reads the reports
// back from Cloud Logging for Status and the CLI.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/iterator"
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
const LogID = "coopguard-incidents"

// MetricType is the custom metric written once per report.
const MetricType = "custom.googleapis.com/coopguard/incident"

// Recorder writes and reads incident reports for one project.
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
// the metric. The log entry is the system of record: its failure is
// returned (the caller retries); the topic and the metric are best effort
// and only logged.
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
		Labels:   map[string]string{"incident": rep.Incident.ID, "outcome": rep.Outcome, "playbook": rep.Incident.Playbook},
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

// List returns the latest report of each of the most recent incidents,
// newest first, at most limit.
func (r *Recorder) List(ctx context.Context, limit int) ([]incident.Report, error) {
	return r.list(ctx, fmt.Sprintf("logName=%q", r.LogName()), limit)
}

// Get returns the latest report of incident id.
func (r *Recorder) Get(ctx context.Context, id string) (*incident.Report, error) {
	reps, err := r.list(ctx, fmt.Sprintf("logName=%q AND labels.incident=%q", r.LogName(), id), 1)
	if err != nil {
		return nil, err
	}
	if len(reps) == 0 {
		return nil, fmt.Errorf("incident %q: %w", id, ErrNotFound)
	}
	return &reps[0], nil
}

// History returns every report recorded for incident id, oldest first.
func (r *Recorder) History(ctx context.Context, id string) ([]incident.Report, error) {
	var out []incident.Report
	err := r.scan(ctx, fmt.Sprintf("logName=%q AND labels.incident=%q", r.LogName(), id), func(rep incident.Report) bool {
		out = append(out, rep)
		return true
	})
	slices.Reverse(out)
	return out, err
}

// ErrNotFound is returned by Get for an unknown incident.
var ErrNotFound = errors.New("no such coopguard incident")

func (r *Recorder) list(ctx context.Context, filter string, limit int) ([]incident.Report, error) {
	seen := map[string]bool{}
	var out []incident.Report
	err := r.scan(ctx, filter, func(rep incident.Report) bool {
		if seen[rep.Incident.ID] {
			return true
		}
		seen[rep.Incident.ID] = true
		out = append(out, rep)
		return len(out) < limit
	})
	return out, err
}

// scan visits reports newest first until visit returns false.
func (r *Recorder) scan(ctx context.Context, filter string, visit func(incident.Report) bool) error {
	it := r.c.Logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + r.project},
		Filter:        filter,
		OrderBy:       "timestamp desc",
		PageSize:      100,
	})
	for {
		e, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read incidents from log %s: %w", LogID, err)
		}
		raw, err := protojson.Marshal(e.GetJsonPayload())
		if err != nil {
			continue
		}
		var rep incident.Report
		if json.Unmarshal(raw, &rep) != nil || rep.Incident.ID == "" {
			continue // not a report: ignore rather than fail the listing
		}
		if !visit(rep) {
			return nil
		}
	}
}
