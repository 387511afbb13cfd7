package monitoring

import (
	"context"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/label"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Write limits of CreateTimeSeries from the API reference.
const (
	maxSeriesPerWrite = 200
	minSamplePeriod   = 5 * time.Second
)

// seriesKey identifies a time series within a project: its metric and
// monitored resource, types and labels.
func seriesKey(project projectName, ts *monitoringpb.TimeSeries) string {
	var b strings.Builder
	b.WriteString(project.String() + "|" + ts.GetMetric().GetType() + "|" + sortedLabels(ts.GetMetric().GetLabels()))
	b.WriteString("|" + ts.GetResource().GetType() + "|" + sortedLabels(ts.GetResource().GetLabels()))
	return b.String()
}

func sortedLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// valueType is the value type a point's TypedValue carries.
func valueType(v *monitoringpb.TypedValue) metric.MetricDescriptor_ValueType {
	switch v.GetValue().(type) {
	case *monitoringpb.TypedValue_BoolValue:
		return metric.MetricDescriptor_BOOL
	case *monitoringpb.TypedValue_Int64Value:
		return metric.MetricDescriptor_INT64
	case *monitoringpb.TypedValue_DoubleValue:
		return metric.MetricDescriptor_DOUBLE
	case *monitoringpb.TypedValue_StringValue:
		return metric.MetricDescriptor_STRING
	case *monitoringpb.TypedValue_DistributionValue:
		return metric.MetricDescriptor_DISTRIBUTION
	}
	return metric.MetricDescriptor_VALUE_TYPE_UNSPECIFIED
}

// CreateTimeSeries appends one point to each given series. As in the
// service, each series carries exactly one point, a series appears at most
// once per call, and points go forward in time no faster than the sampling
// period. Unlike the service, a request with any bad series writes nothing,
// so a caller never has to untangle a partial write in a test.
func (m *metricService) CreateTimeSeries(_ context.Context, req *monitoringpb.CreateTimeSeriesRequest) (*emptypb.Empty, error) {
	s := m.s
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	if n := len(req.GetTimeSeries()); n == 0 || n > maxSeriesPerWrite {
		return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries must contain between 1 and %d time series, got %d.", maxSeriesPerWrite, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type write struct {
		key  string
		ts   *monitoringpb.TimeSeries
		desc *metric.MetricDescriptor // non-nil when the write creates it
	}
	var writes []write
	seen := map[string]bool{}
	newDescs := map[string]*metric.MetricDescriptor{}
	for i, in := range req.GetTimeSeries() {
		ts := proto.Clone(in).(*monitoringpb.TimeSeries)
		mt := ts.GetMetric().GetType()
		if !isUserMetric(mt) {
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].metric.type had an invalid value of %q: only user-defined metric types can be written.", i, mt)
		}
		if ts.GetResource().GetType() == "" {
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].resource.type must be set.", i)
		}
		if len(ts.GetPoints()) != 1 {
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].points must contain exactly one point, got %d.", i, len(ts.GetPoints()))
		}
		pt := ts.GetPoints()[0]
		if pt.GetInterval().GetEndTime() == nil {
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].points[0].interval.end_time must be set.", i)
		}
		vt := valueType(pt.GetValue())
		if vt == metric.MetricDescriptor_VALUE_TYPE_UNSPECIFIED {
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].points[0].value must be set.", i)
		}
		if ts.MetricKind == metric.MetricDescriptor_METRIC_KIND_UNSPECIFIED {
			ts.MetricKind = metric.MetricDescriptor_GAUGE
		}
		end := pt.GetInterval().GetEndTime().AsTime()
		start := pt.GetInterval().GetStartTime()
		switch {
		case ts.MetricKind == metric.MetricDescriptor_GAUGE && start != nil && !start.AsTime().Equal(end):
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].points[0].interval.start_time must equal end_time for a GAUGE metric.", i)
		case ts.MetricKind != metric.MetricDescriptor_GAUGE && (start == nil || !start.AsTime().Before(end)):
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].points[0].interval.start_time must be set and earlier than end_time for a %s metric.", i, ts.MetricKind)
		}
		if start == nil {
			pt.Interval.StartTime = pt.Interval.EndTime
		}
		ts.ValueType = vt

		dname := descriptorName{projectName: parent, Type: mt}.String()
		d, ok := s.descriptors[dname]
		if !ok {
			d, ok = newDescs[dname]
		}
		var created *metric.MetricDescriptor
		if !ok {
			// The service creates the descriptor of a custom metric on its
			// first write, inferring kind, type and labels.
			created = &metric.MetricDescriptor{Name: dname, Type: mt, MetricKind: ts.MetricKind, ValueType: vt, Description: "Auto-created custom metric."}
			for k := range ts.GetMetric().GetLabels() {
				created.Labels = append(created.Labels, &label.LabelDescriptor{Key: k, ValueType: label.LabelDescriptor_STRING})
			}
			sort.Slice(created.Labels, func(a, b int) bool { return created.Labels[a].Key < created.Labels[b].Key })
			newDescs[dname] = created
			d = created
		}
		if d.GetMetricKind() != ts.MetricKind || d.GetValueType() != vt {
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d] had an invalid value: metric kind %s and value type %s do not match the metric descriptor %s (%s, %s).", i, ts.MetricKind, vt, mt, d.GetMetricKind(), d.GetValueType())
		}

		key := seriesKey(parent, ts)
		if seen[key] {
			return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d] had an invalid value: Duplicate TimeSeries encountered. Only one point can be written per TimeSeries per request.", i)
		}
		seen[key] = true
		if old, ok := s.series[key]; ok {
			last := old.GetPoints()[0].GetInterval().GetEndTime().AsTime()
			if !end.After(last) {
				return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].points[0] had an invalid value: Points must be written in order. One or more of the points specified had an older start time than the most recent point.", i)
			}
			if end.Sub(last) < minSamplePeriod {
				return nil, status.Errorf(codes.InvalidArgument, "Field timeSeries[%d].points[0] had an invalid value: One or more points were written more frequently than the maximum sampling period configured for the metric.", i)
			}
		}
		writes = append(writes, write{key: key, ts: ts, desc: created})
	}
	for _, w := range writes {
		if w.desc != nil {
			s.descriptors[w.desc.Name] = w.desc
		}
		old, ok := s.series[w.key]
		if !ok {
			s.series[w.key] = w.ts
			continue
		}
		// Newest first, the order ListTimeSeries returns.
		old.Points = append([]*monitoringpb.Point{w.ts.Points[0]}, old.Points...)
	}
	return &emptypb.Empty{}, nil
}

// seriesField resolves the filter fields the fake supports on series.
func seriesField(ts *monitoringpb.TimeSeries) func(string) (string, bool) {
	return func(field string) (string, bool) {
		switch field {
		case "metric.type":
			return ts.GetMetric().GetType(), true
		case "resource.type":
			return ts.GetResource().GetType(), true
		}
		if k, ok := labelField(field, "metric.labels."); ok {
			v, ok := ts.GetMetric().GetLabels()[k]
			return v, ok
		}
		if k, ok := labelField(field, "resource.labels."); ok {
			v, ok := ts.GetResource().GetLabels()[k]
			return v, ok
		}
		return "", false
	}
}

func knownSeriesField(f string) bool {
	_, ml := labelField(f, "metric.labels.")
	_, rl := labelField(f, "resource.labels.")
	return f == "metric.type" || f == "resource.type" || ml || rl
}

// ListTimeSeries returns the series matching the filter that have points
// in the interval, each with those points newest first. The filter must
// name metric.type and may add resource.type, metric.labels.KEY and
// resource.labels.KEY; aggregation and order_by are not supported.
func (m *metricService) ListTimeSeries(_ context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter(), knownSeriesField)
	if err != nil {
		return nil, err
	}
	hasType := false
	for _, t := range f {
		hasType = hasType || (t.field == "metric.type" && t.op == "=")
	}
	if !hasType {
		return nil, status.Errorf(codes.InvalidArgument, "Field filter had an invalid value of %q: a metric.type must be specified.", req.GetFilter())
	}
	if req.GetInterval().GetEndTime() == nil {
		return nil, status.Error(codes.InvalidArgument, "Field interval.end_time must be set.")
	}
	end := req.GetInterval().GetEndTime().AsTime()
	start := end
	if req.GetInterval().GetStartTime() != nil {
		start = req.GetInterval().GetStartTime().AsTime()
	}
	if start.After(end) {
		return nil, status.Error(codes.InvalidArgument, "Field interval.start_time must not be later than interval.end_time.")
	}
	for _, agg := range []*monitoringpb.Aggregation{req.GetAggregation(), req.GetSecondaryAggregation()} {
		if agg.GetPerSeriesAligner() != monitoringpb.Aggregation_ALIGN_NONE || agg.GetCrossSeriesReducer() != monitoringpb.Aggregation_REDUCE_NONE || len(agg.GetGroupByFields()) > 0 {
			return nil, status.Error(codes.InvalidArgument, "Aggregation is not supported by the emulator.")
		}
	}
	if req.GetOrderBy() != "" {
		return nil, status.Error(codes.InvalidArgument, "order_by is not supported by the emulator.")
	}

	s := m.s
	s.mu.Lock()
	var keys []string
	for k := range s.series {
		if strings.HasPrefix(k, parent.String()+"|") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var kept []*monitoringpb.TimeSeries
	for _, k := range keys {
		ts := s.series[k]
		if !f.match(seriesField(ts)) {
			continue
		}
		var pts []*monitoringpb.Point
		for _, p := range ts.GetPoints() {
			t := p.GetInterval().GetEndTime().AsTime()
			if !t.Before(start) && !t.After(end) {
				pts = append(pts, p)
			}
		}
		if len(pts) == 0 {
			continue
		}
		out := proto.Clone(ts).(*monitoringpb.TimeSeries)
		out.Points = nil
		if req.GetView() == monitoringpb.ListTimeSeriesRequest_FULL {
			for _, p := range pts {
				out.Points = append(out.Points, proto.Clone(p).(*monitoringpb.Point))
			}
		}
		kept = append(kept, out)
	}
	s.mu.Unlock()
	got, next, err := page(kept, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &monitoringpb.ListTimeSeriesResponse{TimeSeries: got, NextPageToken: next}, nil
}

// TimeSeries returns copies of a project's series of one metric type, with
// all their points newest first, for tests to check what was written.
func (s *Server) TimeSeries(project, metricType string) []*monitoringpb.TimeSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k, ts := range s.series {
		if strings.HasPrefix(k, "projects/"+project+"|") && ts.GetMetric().GetType() == metricType {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]*monitoringpb.TimeSeries, 0, len(keys))
	for _, k := range keys {
		out = append(out, proto.Clone(s.series[k]).(*monitoringpb.TimeSeries))
	}
	return out
}
