package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/label"
	"google.golang.org/genproto/googleapis/api/metric"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// RotationDueMetric is the gauge the scheduled rotation writes, 1 per
// secret due for rotation.
const RotationDueMetric = "custom.googleapis.com/coopguard/rotation_due"

// MetricDescriptors are the custom metrics coopguard writes, as Provision
// creates them. Created first by coopguard, not on a first write: a
// principal holding monitoring.metricWriter (the sandbox's account has
// it) could otherwise define them with another kind or value type, and
// every write of coopguard's would then be refused.
func MetricDescriptors() []*metric.MetricDescriptor {
	str := func(keys ...string) []*label.LabelDescriptor {
		var out []*label.LabelDescriptor
		for _, k := range keys {
			out = append(out, &label.LabelDescriptor{Key: k, ValueType: label.LabelDescriptor_STRING})
		}
		return out
	}
	return []*metric.MetricDescriptor{
		{
			Type: report.MetricType, MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_DOUBLE,
			Unit: "s", DisplayName: "coopguard incident containment seconds",
			Description: "One point per incident report: seconds from the event to containment.",
			Labels:      str("outcome", "playbook", "source"),
		},
		{
			Type: RotationDueMetric, MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_INT64,
			DisplayName: "coopguard secret rotation due",
			Description: "1 for each managed secret whose newest version is older than the rotation period.",
			Labels:      str("secret"),
		},
	}
}

// MetricDescriptorDrift says how got differs from want in what decides
// whether coopguard's writes are accepted (kind, value type, labels), or
// "" when it does not.
func MetricDescriptorDrift(got, want *metric.MetricDescriptor) string {
	var drift []string
	if got.GetMetricKind() != want.GetMetricKind() {
		drift = append(drift, fmt.Sprintf("kind %s, want %s", got.GetMetricKind(), want.GetMetricKind()))
	}
	if got.GetValueType() != want.GetValueType() {
		drift = append(drift, fmt.Sprintf("value type %s, want %s", got.GetValueType(), want.GetValueType()))
	}
	for _, l := range want.GetLabels() {
		if !slices.ContainsFunc(got.GetLabels(), func(g *label.LabelDescriptor) bool { return g.GetKey() == l.GetKey() }) {
			drift = append(drift, "label "+l.GetKey()+" missing")
		}
	}
	return strings.Join(drift, ", ")
}

// MetricDescriptorName is the resource name of the descriptor of metric
// type t in project.
func MetricDescriptorName(project, t string) string {
	return "projects/" + project + "/metricDescriptors/" + t
}

// metricDescriptor is one of coopguard's custom metric descriptors. They
// are the project's, shared by every sandbox: each sandbox's converge
// checks them.
type metricDescriptor struct {
	s *Sandbox
	d *metric.MetricDescriptor
}

func (r *metricDescriptor) Kind() string   { return "metricDescriptor" }
func (r *metricDescriptor) Name() string   { return r.d.GetType() }
func (r *metricDescriptor) Deps() []string { return nil }

func (r *metricDescriptor) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	name := MetricDescriptorName(r.s.Project, r.d.GetType())
	got, err := c.Metrics.GetMetricDescriptor(ctx, &monitoringpb.GetMetricDescriptorRequest{Name: name})
	var action Action
	var detail string
	switch {
	case retry.IsNotFound(err):
		action, detail = Create, fmt.Sprintf("%s %s %s", name, r.d.GetMetricKind(), r.d.GetValueType())
	case err != nil:
		return Change{}, err
	default:
		drift := MetricDescriptorDrift(got, r.d)
		if drift == "" {
			return Change{Action: None, Detail: name}, nil
		}
		action, detail = Update, "restore "+drift
	}
	// Create also updates an existing descriptor (never removing a label),
	// so one call serves both.
	return Change{Action: action, Detail: detail, Apply: func(ctx context.Context) error {
		_, err := c.Metrics.CreateMetricDescriptor(ctx, &monitoringpb.CreateMetricDescriptorRequest{Name: "projects/" + r.s.Project, MetricDescriptor: r.d})
		return err
	}}, nil
}
