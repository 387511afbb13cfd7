package monitoring

import (
	"context"
	"slices"
	"sort"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/label"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// userMetricPrefixes are the metric domains a project may define and write;
// built-in metrics are the service's to write, not the caller's.
var userMetricPrefixes = []string{"custom.googleapis.com/", "external.googleapis.com/", "workload.googleapis.com/", "logging.googleapis.com/user/"}

func isUserMetric(t string) bool {
	for _, p := range userMetricPrefixes {
		if strings.HasPrefix(t, p) && len(t) > len(p) {
			return true
		}
	}
	return false
}

// metricService is the MetricService face of Server.
type metricService struct {
	monitoringpb.UnimplementedMetricServiceServer
	s *Server
}

// CreateMetricDescriptor stores the descriptor of a user-defined metric.
// As the service does, creating one whose type exists updates it (kind,
// value type and all) except that labels it had are never removed: any
// caller holding monitoring.metricDescriptors.create (roles/monitoring.metricWriter)
// can redefine a custom metric.
func (m *metricService) CreateMetricDescriptor(_ context.Context, req *monitoringpb.CreateMetricDescriptorRequest) (*metric.MetricDescriptor, error) {
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	d := req.GetMetricDescriptor()
	if d == nil {
		return nil, status.Error(codes.InvalidArgument, "metric_descriptor is required.")
	}
	if !isUserMetric(d.GetType()) {
		return nil, status.Errorf(codes.InvalidArgument, "Metric type %q is not a user-defined metric type (custom.googleapis.com/..., external.googleapis.com/..., workload.googleapis.com/...).", d.GetType())
	}
	if d.GetMetricKind() == metric.MetricDescriptor_METRIC_KIND_UNSPECIFIED || d.GetValueType() == metric.MetricDescriptor_VALUE_TYPE_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "Field metric_descriptor.metric_kind and metric_descriptor.value_type must be set.")
	}
	d = proto.Clone(d).(*metric.MetricDescriptor)
	d.Name = descriptorName{projectName: parent, Type: d.GetType()}.String()
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if old, ok := m.s.descriptors[d.Name]; ok {
		for _, l := range old.GetLabels() {
			if !slices.ContainsFunc(d.GetLabels(), func(n *label.LabelDescriptor) bool { return n.GetKey() == l.GetKey() }) {
				d.Labels = append(d.Labels, proto.Clone(l).(*label.LabelDescriptor))
			}
		}
	}
	m.s.descriptors[d.Name] = d
	return proto.Clone(d).(*metric.MetricDescriptor), nil
}

// GetMetricDescriptor returns one descriptor.
func (m *metricService) GetMetricDescriptor(_ context.Context, req *monitoringpb.GetMetricDescriptorRequest) (*metric.MetricDescriptor, error) {
	n, err := parseDescriptorName(req.GetName())
	if err != nil {
		return nil, err
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	d, ok := m.s.descriptors[n.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Could not find descriptor for metric '%s'.", n.Type)
	}
	return proto.Clone(d).(*metric.MetricDescriptor), nil
}

// DeleteMetricDescriptor removes a descriptor of a user-defined metric.
func (m *metricService) DeleteMetricDescriptor(_ context.Context, req *monitoringpb.DeleteMetricDescriptorRequest) (*emptypb.Empty, error) {
	n, err := parseDescriptorName(req.GetName())
	if err != nil {
		return nil, err
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if _, ok := m.s.descriptors[n.String()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Could not find descriptor for metric '%s'.", n.Type)
	}
	delete(m.s.descriptors, n.String())
	return &emptypb.Empty{}, nil
}

// ListMetricDescriptors lists a project's descriptors in type order; the
// filter supports metric.type, including metric.type = starts_with("...").
func (m *metricService) ListMetricDescriptors(_ context.Context, req *monitoringpb.ListMetricDescriptorsRequest) (*monitoringpb.ListMetricDescriptorsResponse, error) {
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter(), func(f string) bool { return f == "metric.type" })
	if err != nil {
		return nil, err
	}
	m.s.mu.Lock()
	prefix := parent.String() + "/metricDescriptors/"
	var kept []*metric.MetricDescriptor
	for name, d := range m.s.descriptors {
		if strings.HasPrefix(name, prefix) && f.match(func(string) (string, bool) { return d.GetType(), true }) {
			kept = append(kept, proto.Clone(d).(*metric.MetricDescriptor))
		}
	}
	m.s.mu.Unlock()
	sort.Slice(kept, func(i, j int) bool { return kept[i].Name < kept[j].Name })
	got, next, err := page(kept, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &monitoringpb.ListMetricDescriptorsResponse{MetricDescriptors: got, NextPageToken: next}, nil
}
