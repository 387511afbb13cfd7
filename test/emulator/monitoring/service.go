// Package monitoring is an in-process fake of Cloud Monitoring
// (google.monitoring.v3): alert policies, notification channels, metric
// descriptors and time series, served to the official clients over a real
// gRPC connection, for tests and for the embedded emulated GCP of
// `coopguard serve`.
//
// It follows the API reference where coopguard depends on it: typed resource
// names, the service's error codes, the filter subset coopguard uses,
// update masks, paging, and the write rules of CreateTimeSeries (one point
// per series per call, points in order). Latency and faults are not its
// job: the shared grpc.Server carries the faults interceptor.
package monitoring

import (
	"context"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// Server holds the state of the three fake services. Create it with New; it
// is safe for concurrent use.
type Server struct {
	now func() time.Time

	mu sync.Mutex
	// Each map is keyed by full resource name, e.g.
	// projects/P/alertPolicies/ID or projects/P/metricDescriptors/TYPE.
	policies    map[string]*monitoringpb.AlertPolicy
	channels    map[string]*monitoringpb.NotificationChannel
	descriptors map[string]*metric.MetricDescriptor
	// series is keyed by project and the series identity (seriesKey).
	series map[string]*monitoringpb.TimeSeries
	// seq makes ids unique and, unlike random ids, repeatable in tests.
	seq int64
}

// New returns an empty Server. now is the clock for creation and mutation
// records; nil means time.Now.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{
		now:         now,
		policies:    map[string]*monitoringpb.AlertPolicy{},
		channels:    map[string]*monitoringpb.NotificationChannel{},
		descriptors: map[string]*metric.MetricDescriptor{},
		series:      map[string]*monitoringpb.TimeSeries{},
	}
}

// Register registers AlertPolicyService, NotificationChannelService and
// MetricService on g. Each gets its own small type because the generated
// Unimplemented structs cannot all be embedded in one.
func (s *Server) Register(g *grpc.Server) {
	monitoringpb.RegisterAlertPolicyServiceServer(g, &alertPolicyService{s: s})
	monitoringpb.RegisterNotificationChannelServiceServer(g, &channelService{s: s})
	monitoringpb.RegisterMetricServiceServer(g, &metricService{s: s})
}

// newID returns a fresh numeric id, shaped like the service's.
// Callers hold s.mu.
func (s *Server) newID() string {
	s.seq++
	return strconv.FormatInt(1000000000000000000+s.seq, 10)
}

// record is a creation or mutation record stamped with the fake's clock
// and the caller's email (MutationRecord.mutated_by), when the gate
// authenticated one.
func (s *Server) record(ctx context.Context) *monitoringpb.MutationRecord {
	by, _ := iam.PrincipalFrom(ctx)
	return &monitoringpb.MutationRecord{MutateTime: timestamppb.New(s.now()), MutatedBy: by}
}
