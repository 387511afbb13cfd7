package posture

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// metricDescriptors: the custom metrics coopguard writes exist with the
// kind, value type and labels Provision gives them. Anyone holding
// monitoring.metricWriter (the sandbox's account has it) may create or
// update a custom descriptor; one of another kind or value type makes
// Monitoring refuse every point coopguard writes to it.
type metricDescriptors struct{}

func (metricDescriptors) Name() string { return "metric-descriptors" }

func (metricDescriptors) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	var ok []string
	for _, want := range provisioner.MetricDescriptors() {
		name := provisioner.MetricDescriptorName(in.Project(), want.GetType())
		got, err := c.Metrics.GetMetricDescriptor(ctx, &monitoringpb.GetMetricDescriptorRequest{Name: name})
		if retry.IsNotFound(err) {
			return fail(fmt.Sprintf("no metric descriptor %s: the first principal to write it defines its type", want.GetType()),
				"create it: coopguard provision --config FILE")
		}
		if err != nil {
			return readError(fmt.Errorf("read metric descriptor %s: %w", name, err), "monitoring.metricDescriptors.get")
		}
		if drift := provisioner.MetricDescriptorDrift(got, want); drift != "" {
			return fail(fmt.Sprintf("metric descriptor %s has %s: coopguard's points are refused", want.GetType(), drift),
				"restore it: coopguard provision --config FILE (if Monitoring refuses the change, delete it first: gcloud monitoring metrics-descriptors delete "+want.GetType()+"); then look for who changed it in the Admin Activity audit log")
		}
		ok = append(ok, fmt.Sprintf("%s %s %s", want.GetType(), got.GetMetricKind(), got.GetValueType()))
	}
	return pass("%s", strings.Join(ok, "; "))
}
