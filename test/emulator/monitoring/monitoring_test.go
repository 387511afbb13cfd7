package monitoring_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	monapi "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/api/label"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"github.com/cloudcoop/coopguard/test/emulator/monitoring"
)

// clients are the official clients connected to one fake.
type clients struct {
	fake     *monitoring.Server
	policies *monapi.AlertPolicyClient
	channels *monapi.NotificationChannelClient
	metrics  *monapi.MetricClient
	clock    *emulator.Clock
}

func start(t *testing.T) clients {
	t.Helper()
	clk := emulator.FrozenClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	fake := monitoring.New(clk.Now)
	opts := grpctest.Serve(t, fake.Register)
	ctx := context.Background()
	pc, err := monapi.NewAlertPolicyClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	cc, err := monapi.NewNotificationChannelClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	mc, err := monapi.NewMetricClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Close() })
	return clients{fake: fake, policies: pc, channels: cc, metrics: mc, clock: clk}
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("error = %v, want code %v", err, want)
	}
}

func pubsubChannel(topic string) *monitoringpb.NotificationChannel {
	return &monitoringpb.NotificationChannel{Type: "pubsub", DisplayName: "coopguard", Labels: map[string]string{"topic": topic}}
}

func policy(name string, channels ...string) *monitoringpb.AlertPolicy {
	return &monitoringpb.AlertPolicy{
		DisplayName: name,
		Combiner:    monitoringpb.AlertPolicy_OR,
		Conditions: []*monitoringpb.AlertPolicy_Condition{{
			DisplayName: "log match",
			Condition: &monitoringpb.AlertPolicy_Condition_ConditionMatchedLog{
				ConditionMatchedLog: &monitoringpb.AlertPolicy_Condition_LogMatch{Filter: `logName="projects/p/logs/x"`},
			},
		}},
		NotificationChannels: channels,
		AlertStrategy: &monitoringpb.AlertPolicy_AlertStrategy{
			NotificationRateLimit: &monitoringpb.AlertPolicy_AlertStrategy_NotificationRateLimit{Period: durationpb.New(5 * time.Minute)},
		},
	}
}

// thresholdPolicy is a policy with n metric-threshold conditions.
func thresholdPolicy(name string, n int) *monitoringpb.AlertPolicy {
	p := &monitoringpb.AlertPolicy{DisplayName: name, Combiner: monitoringpb.AlertPolicy_OR}
	for i := range n {
		p.Conditions = append(p.Conditions, &monitoringpb.AlertPolicy_Condition{
			DisplayName: fmt.Sprintf("cpu %d", i),
			Condition: &monitoringpb.AlertPolicy_Condition_ConditionThreshold{ConditionThreshold: &monitoringpb.AlertPolicy_Condition_MetricThreshold{
				Filter:     `metric.type="compute.googleapis.com/instance/cpu/utilization" AND resource.type="gce_instance"`,
				Comparison: monitoringpb.ComparisonType_COMPARISON_GT, ThresholdValue: 0.9, Duration: durationpb.New(time.Minute),
			}},
		})
	}
	return p
}

func TestNotificationChannels(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	creates := []struct {
		name string
		ch   *monitoringpb.NotificationChannel
		want codes.Code
	}{
		{"pubsub", pubsubChannel("projects/p/topics/alerts"), codes.OK},
		{"email", &monitoringpb.NotificationChannel{Type: "email", Labels: map[string]string{"email_address": "a@b.c"}}, codes.OK},
		{"pubsub no topic", &monitoringpb.NotificationChannel{Type: "pubsub"}, codes.InvalidArgument},
		{"pubsub bad topic", pubsubChannel("alerts"), codes.InvalidArgument},
		{"unknown type", &monitoringpb.NotificationChannel{Type: "carrier-pigeon"}, codes.InvalidArgument},
	}
	var pubsub *monitoringpb.NotificationChannel
	for _, tt := range creates {
		t.Run("create "+tt.name, func(t *testing.T) {
			got, err := c.channels.CreateNotificationChannel(ctx, &monitoringpb.CreateNotificationChannelRequest{Name: "projects/p", NotificationChannel: tt.ch})
			wantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if !got.GetEnabled().GetValue() || !got.GetCreationRecord().GetMutateTime().AsTime().Equal(c.clock.Now()) {
				t.Errorf("channel = %v, want enabled with creation time from the clock", got)
			}
			if tt.ch.Type == "pubsub" {
				pubsub = got
			}
		})
	}
	_, err := c.channels.CreateNotificationChannel(ctx, &monitoringpb.CreateNotificationChannelRequest{Name: "p", NotificationChannel: pubsubChannel("projects/p/topics/t")})
	wantCode(t, err, codes.InvalidArgument)

	got, err := c.channels.GetNotificationChannel(ctx, &monitoringpb.GetNotificationChannelRequest{Name: pubsub.Name})
	if err != nil || got.Labels["topic"] != "projects/p/topics/alerts" {
		t.Fatalf("get = %v, %v", got, err)
	}
	_, err = c.channels.GetNotificationChannel(ctx, &monitoringpb.GetNotificationChannelRequest{Name: "projects/p/notificationChannels/404"})
	wantCode(t, err, codes.NotFound)

	filters := []struct {
		filter string
		want   int
		code   codes.Code
	}{
		{"", 2, codes.OK},
		{`type = "pubsub"`, 1, codes.OK},
		{`type="email"`, 1, codes.OK},
		{`type = "pubsub" AND labels.topic = "projects/p/topics/alerts"`, 1, codes.OK},
		{`type != "pubsub"`, 1, codes.OK},
		{`type = "pubsub" OR type = "email"`, 0, codes.InvalidArgument},
		{`colour = "red"`, 0, codes.InvalidArgument},
	}
	for _, tt := range filters {
		t.Run("list "+tt.filter, func(t *testing.T) {
			n := 0
			it := c.channels.ListNotificationChannels(ctx, &monitoringpb.ListNotificationChannelsRequest{Name: "projects/p", Filter: tt.filter, PageSize: 1})
			for {
				_, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					wantCode(t, err, tt.code)
					return
				}
				n++
			}
			wantCode(t, nil, tt.code)
			if n != tt.want {
				t.Errorf("got %d channels, want %d", n, tt.want)
			}
		})
	}

	updates := []struct {
		name  string
		in    *monitoringpb.NotificationChannel
		paths []string
		want  codes.Code
	}{
		{"display name", &monitoringpb.NotificationChannel{DisplayName: "renamed"}, []string{"display_name"}, codes.OK},
		{"disable", &monitoringpb.NotificationChannel{Enabled: wrapperspb.Bool(false)}, []string{"enabled"}, codes.OK},
		{"drop topic", &monitoringpb.NotificationChannel{}, []string{"labels"}, codes.InvalidArgument},
		{"type", &monitoringpb.NotificationChannel{Type: "email"}, []string{"type"}, codes.InvalidArgument},
		{"unknown path", &monitoringpb.NotificationChannel{}, []string{"colour"}, codes.InvalidArgument},
		{"whole", pubsubChannel("projects/p/topics/other"), nil, codes.OK},
	}
	for _, tt := range updates {
		t.Run("update "+tt.name, func(t *testing.T) {
			tt.in.Name = pubsub.Name
			req := &monitoringpb.UpdateNotificationChannelRequest{NotificationChannel: tt.in}
			if tt.paths != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: tt.paths}
			}
			_, err := c.channels.UpdateNotificationChannel(ctx, req)
			wantCode(t, err, tt.want)
		})
	}
	if got := c.fake.NotificationChannels("p"); len(got) != 2 || got[0].Labels["topic"] != "projects/p/topics/other" || len(got[0].MutationRecords) != 1 {
		t.Errorf("NotificationChannels = %v", got)
	}

	descs := c.channels.ListNotificationChannelDescriptors(ctx, &monitoringpb.ListNotificationChannelDescriptorsRequest{Name: "projects/p"})
	d, err := descs.Next()
	if err != nil || d.Type == "" {
		t.Errorf("descriptor = %v, %v", d, err)
	}

	t.Run("delete in use", func(t *testing.T) {
		p, err := c.policies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{Name: "projects/p", AlertPolicy: policy("uses channel", pubsub.Name)})
		if err != nil {
			t.Fatal(err)
		}
		err = c.channels.DeleteNotificationChannel(ctx, &monitoringpb.DeleteNotificationChannelRequest{Name: pubsub.Name})
		wantCode(t, err, codes.FailedPrecondition)
		if err := c.channels.DeleteNotificationChannel(ctx, &monitoringpb.DeleteNotificationChannelRequest{Name: pubsub.Name, Force: true}); err != nil {
			t.Fatal(err)
		}
		p, err = c.policies.GetAlertPolicy(ctx, &monitoringpb.GetAlertPolicyRequest{Name: p.Name})
		if err != nil || len(p.NotificationChannels) != 0 {
			t.Errorf("policy after forced delete = %v, %v; want no channels", p, err)
		}
		wantCode(t, c.channels.DeleteNotificationChannel(ctx, &monitoringpb.DeleteNotificationChannelRequest{Name: pubsub.Name}), codes.NotFound)
	})
}

func TestAlertPolicies(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	ch, err := c.channels.CreateNotificationChannel(ctx, &monitoringpb.CreateNotificationChannelRequest{Name: "projects/p", NotificationChannel: pubsubChannel("projects/p/topics/alerts")})
	if err != nil {
		t.Fatal(err)
	}
	noCond := policy("x")
	noCond.Conditions = nil
	twoNoCombiner := thresholdPolicy("x", 2)
	twoNoCombiner.Combiner = monitoringpb.AlertPolicy_COMBINE_UNSPECIFIED
	creates := []struct {
		name string
		p    *monitoringpb.AlertPolicy
		want codes.Code
	}{
		{"ok", policy("coopguard-secret-access", ch.Name), codes.OK},
		{"second", policy("coopguard-cpu"), codes.OK},
		{"third", policy("coopguard-egress"), codes.OK},
		{"no conditions", noCond, codes.InvalidArgument},
		{"no combiner", twoNoCombiner, codes.InvalidArgument},
		{"no display name", policy(""), codes.InvalidArgument},
		{"missing channel", policy("x", "projects/p/notificationChannels/404"), codes.NotFound},
		{"bad channel name", policy("x", "channels/1"), codes.InvalidArgument},
	}
	var first *monitoringpb.AlertPolicy
	for _, tt := range creates {
		t.Run("create "+tt.name, func(t *testing.T) {
			got, err := c.policies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{Name: "projects/p", AlertPolicy: tt.p})
			wantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if first == nil {
				first = got
			}
			if got.Conditions[0].Name == "" || got.Conditions[0].Name[:len(got.Name)] != got.Name || !got.Enabled.GetValue() {
				t.Errorf("policy = %v, want named conditions under %s and enabled", got, got.Name)
			}
		})
	}
	_, err = c.policies.GetAlertPolicy(ctx, &monitoringpb.GetAlertPolicyRequest{Name: "projects/p/alertPolicies/404"})
	wantCode(t, err, codes.NotFound)
	_, err = c.policies.GetAlertPolicy(ctx, &monitoringpb.GetAlertPolicyRequest{Name: "projects/p/policies/1"})
	wantCode(t, err, codes.InvalidArgument)

	filters := []struct {
		filter string
		want   []string
		code   codes.Code
	}{
		{"", []string{"coopguard-secret-access", "coopguard-cpu", "coopguard-egress"}, codes.OK},
		{`display_name = "coopguard-cpu"`, []string{"coopguard-cpu"}, codes.OK},
		{`display_name = starts_with("coopguard-c")`, []string{"coopguard-cpu"}, codes.OK},
		{`display_name = "nope"`, nil, codes.OK},
		{`display_name = `, nil, codes.InvalidArgument},
	}
	for _, tt := range filters {
		t.Run("list "+tt.filter, func(t *testing.T) {
			var got []string
			it := c.policies.ListAlertPolicies(ctx, &monitoringpb.ListAlertPoliciesRequest{Name: "projects/p", Filter: tt.filter, PageSize: 2})
			for {
				p, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					wantCode(t, err, tt.code)
					return
				}
				got = append(got, p.DisplayName)
			}
			wantCode(t, nil, tt.code)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}

	c.clock.Advance(time.Hour)
	updates := []struct {
		name  string
		in    *monitoringpb.AlertPolicy
		paths []string
		want  codes.Code
	}{
		{"disable", &monitoringpb.AlertPolicy{Enabled: wrapperspb.Bool(false)}, []string{"enabled"}, codes.OK},
		{"documentation", &monitoringpb.AlertPolicy{Documentation: &monitoringpb.AlertPolicy_Documentation{Content: "runbook", MimeType: "text/markdown"}}, []string{"documentation"}, codes.OK},
		{"user labels", &monitoringpb.AlertPolicy{UserLabels: map[string]string{"owner": "coopguard"}}, []string{"user_labels"}, codes.OK},
		{"unknown path", &monitoringpb.AlertPolicy{}, []string{"colour"}, codes.InvalidArgument},
		{"empty conditions", &monitoringpb.AlertPolicy{}, []string{"conditions"}, codes.InvalidArgument},
		{"whole", policy("replaced", ch.Name), nil, codes.OK},
	}
	for _, tt := range updates {
		t.Run("update "+tt.name, func(t *testing.T) {
			tt.in.Name = first.Name
			req := &monitoringpb.UpdateAlertPolicyRequest{AlertPolicy: tt.in}
			if tt.paths != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: tt.paths}
			}
			got, err := c.policies.UpdateAlertPolicy(ctx, req)
			wantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if !got.MutationRecord.MutateTime.AsTime().Equal(c.clock.Now()) || !got.CreationRecord.MutateTime.AsTime().Equal(c.clock.Now().Add(-time.Hour)) {
				t.Errorf("records = %v / %v", got.CreationRecord, got.MutationRecord)
			}
		})
	}
	ps := c.fake.AlertPolicies("p")
	if len(ps) != 3 || ps[0].DisplayName != "replaced" || !ps[0].Enabled.GetValue() {
		t.Errorf("AlertPolicies = %v", ps)
	}
	if err := c.policies.DeleteAlertPolicy(ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: first.Name}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.policies.DeleteAlertPolicy(ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: first.Name}), codes.NotFound)
	if got := c.fake.AlertPolicies("p"); len(got) != 2 {
		t.Errorf("after delete: %d policies, want 2", len(got))
	}
}

func TestMetricDescriptors(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	creates := []struct {
		name string
		d    *metric.MetricDescriptor
		want codes.Code
	}{
		{"incidents", &metric.MetricDescriptor{Type: "custom.googleapis.com/coopguard/incidents", MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_INT64}, codes.OK},
		{"key age", &metric.MetricDescriptor{Type: "custom.googleapis.com/coopguard/key_age", MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_DOUBLE}, codes.OK},
		{"built-in", &metric.MetricDescriptor{Type: "compute.googleapis.com/instance/cpu/utilization", MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_DOUBLE}, codes.InvalidArgument},
		{"no kind", &metric.MetricDescriptor{Type: "custom.googleapis.com/x", ValueType: metric.MetricDescriptor_DOUBLE}, codes.InvalidArgument},
	}
	for _, tt := range creates {
		t.Run("create "+tt.name, func(t *testing.T) {
			got, err := c.metrics.CreateMetricDescriptor(ctx, &monitoringpb.CreateMetricDescriptorRequest{Name: "projects/p", MetricDescriptor: tt.d})
			wantCode(t, err, tt.want)
			if err == nil && got.Name != "projects/p/metricDescriptors/"+tt.d.Type {
				t.Errorf("name = %q", got.Name)
			}
		})
	}
	d, err := c.metrics.GetMetricDescriptor(ctx, &monitoringpb.GetMetricDescriptorRequest{Name: "projects/p/metricDescriptors/custom.googleapis.com/coopguard/incidents"})
	if err != nil || d.ValueType != metric.MetricDescriptor_INT64 {
		t.Fatalf("get = %v, %v", d, err)
	}
	_, err = c.metrics.GetMetricDescriptor(ctx, &monitoringpb.GetMetricDescriptorRequest{Name: "projects/p/metricDescriptors/custom.googleapis.com/none"})
	wantCode(t, err, codes.NotFound)

	// Creating an existing type updates it, kind and value type included,
	// and never removes a label it had.
	labelled := &metric.MetricDescriptor{Type: "custom.googleapis.com/coopguard/key_age", MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_DOUBLE,
		Labels: []*label.LabelDescriptor{{Key: "secret"}}}
	if _, err := c.metrics.CreateMetricDescriptor(ctx, &monitoringpb.CreateMetricDescriptorRequest{Name: "projects/p", MetricDescriptor: labelled}); err != nil {
		t.Fatal(err)
	}
	redefined := &metric.MetricDescriptor{Type: labelled.Type, MetricKind: metric.MetricDescriptor_CUMULATIVE, ValueType: metric.MetricDescriptor_INT64,
		Labels: []*label.LabelDescriptor{{Key: "zone"}}}
	if _, err := c.metrics.CreateMetricDescriptor(ctx, &monitoringpb.CreateMetricDescriptorRequest{Name: "projects/p", MetricDescriptor: redefined}); err != nil {
		t.Fatal(err)
	}
	got, err := c.metrics.GetMetricDescriptor(ctx, &monitoringpb.GetMetricDescriptorRequest{Name: "projects/p/metricDescriptors/" + labelled.Type})
	if err != nil || got.GetMetricKind() != metric.MetricDescriptor_CUMULATIVE || got.GetValueType() != metric.MetricDescriptor_INT64 || len(got.GetLabels()) != 2 {
		t.Errorf("after redefinition = %v, %v; want CUMULATIVE INT64 with labels zone and secret", got, err)
	}
	err = c.metrics.CreateTimeSeries(ctx, &monitoringpb.CreateTimeSeriesRequest{Name: "projects/p", TimeSeries: []*monitoringpb.TimeSeries{{
		Metric: &metric.Metric{Type: labelled.Type}, Resource: &monitoredres.MonitoredResource{Type: "global"},
		Points: []*monitoringpb.Point{{Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.Now()}, Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1}}}},
	}}})
	wantCode(t, err, codes.InvalidArgument) // a GAUGE DOUBLE point no longer fits

	lists := []struct {
		filter string
		want   int
	}{
		{"", 2},
		{`metric.type = "custom.googleapis.com/coopguard/key_age"`, 1},
		{`metric.type = starts_with("custom.googleapis.com/coopguard/")`, 2},
	}
	for _, tt := range lists {
		t.Run("list "+tt.filter, func(t *testing.T) {
			n := 0
			it := c.metrics.ListMetricDescriptors(ctx, &monitoringpb.ListMetricDescriptorsRequest{Name: "projects/p", Filter: tt.filter, PageSize: 1})
			for {
				_, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != tt.want {
				t.Errorf("got %d, want %d", n, tt.want)
			}
		})
	}
	if err := c.metrics.DeleteMetricDescriptor(ctx, &monitoringpb.DeleteMetricDescriptorRequest{Name: d.Name}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.metrics.DeleteMetricDescriptor(ctx, &monitoringpb.DeleteMetricDescriptorRequest{Name: d.Name}), codes.NotFound)
}

// gauge is one GAUGE point of the incidents metric for a sandbox VM.
func gauge(vm string, at time.Time, v int64) *monitoringpb.TimeSeries {
	return &monitoringpb.TimeSeries{
		Metric:   &metric.Metric{Type: "custom.googleapis.com/coopguard/incidents", Labels: map[string]string{"vm": vm}},
		Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": "p"}},
		Points: []*monitoringpb.Point{{
			Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(at)},
			Value:    &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: v}},
		}},
	}
}

func TestTimeSeries(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	t0 := c.clock.Now()
	write := func(ts ...*monitoringpb.TimeSeries) error {
		return c.metrics.CreateTimeSeries(ctx, &monitoringpb.CreateTimeSeriesRequest{Name: "projects/p", TimeSeries: ts})
	}
	if err := write(gauge("a", t0, 1), gauge("b", t0, 5)); err != nil {
		t.Fatal(err)
	}
	if err := write(gauge("a", t0.Add(time.Minute), 2)); err != nil {
		t.Fatal(err)
	}

	twoPoints := gauge("a", t0.Add(time.Hour), 3)
	twoPoints.Points = append(twoPoints.Points, twoPoints.Points[0])
	noPoint := gauge("a", t0.Add(time.Hour), 3)
	noPoint.Points = nil
	builtIn := gauge("a", t0.Add(time.Hour), 3)
	builtIn.Metric.Type = "compute.googleapis.com/instance/cpu/utilization"
	wrongType := gauge("c", t0.Add(time.Hour), 3)
	wrongType.Points[0].Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1}}
	errs := []struct {
		name string
		ts   []*monitoringpb.TimeSeries
	}{
		{"duplicate series in one call", []*monitoringpb.TimeSeries{gauge("a", t0.Add(time.Hour), 3), gauge("a", t0.Add(2*time.Hour), 4)}},
		{"two points", []*monitoringpb.TimeSeries{twoPoints}},
		{"no point", []*monitoringpb.TimeSeries{noPoint}},
		{"out of order", []*monitoringpb.TimeSeries{gauge("a", t0, 9)}},
		{"too frequent", []*monitoringpb.TimeSeries{gauge("a", t0.Add(time.Minute+time.Second), 9)}},
		{"built-in metric", []*monitoringpb.TimeSeries{builtIn}},
		{"value type mismatch", []*monitoringpb.TimeSeries{wrongType}},
		{"empty", nil},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, write(tt.ts...), codes.InvalidArgument)
		})
	}

	d, err := c.metrics.GetMetricDescriptor(ctx, &monitoringpb.GetMetricDescriptorRequest{Name: "projects/p/metricDescriptors/custom.googleapis.com/coopguard/incidents"})
	if err != nil || d.MetricKind != metric.MetricDescriptor_GAUGE || d.ValueType != metric.MetricDescriptor_INT64 {
		t.Errorf("auto-created descriptor = %v, %v", d, err)
	}

	iv := func(start, end time.Time) *monitoringpb.TimeInterval {
		return &monitoringpb.TimeInterval{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}
	}
	lists := []struct {
		name     string
		filter   string
		interval *monitoringpb.TimeInterval
		view     monitoringpb.ListTimeSeriesRequest_TimeSeriesView
		series   int
		points   int
		code     codes.Code
	}{
		{"all", `metric.type = "custom.googleapis.com/coopguard/incidents"`, iv(t0, t0.Add(time.Hour)), monitoringpb.ListTimeSeriesRequest_FULL, 2, 3, codes.OK},
		{"one vm", `metric.type = "custom.googleapis.com/coopguard/incidents" AND metric.labels.vm = "a"`, iv(t0, t0.Add(time.Hour)), monitoringpb.ListTimeSeriesRequest_FULL, 1, 2, codes.OK},
		{"resource", `metric.type = "custom.googleapis.com/coopguard/incidents" AND resource.type = "gce_instance"`, iv(t0, t0.Add(time.Hour)), monitoringpb.ListTimeSeriesRequest_FULL, 0, 0, codes.OK},
		{"later window", `metric.type = "custom.googleapis.com/coopguard/incidents"`, iv(t0.Add(30*time.Second), t0.Add(time.Hour)), monitoringpb.ListTimeSeriesRequest_FULL, 1, 1, codes.OK},
		{"instant", `metric.type = "custom.googleapis.com/coopguard/incidents"`, &monitoringpb.TimeInterval{EndTime: timestamppb.New(t0)}, monitoringpb.ListTimeSeriesRequest_FULL, 2, 2, codes.OK},
		{"headers", `metric.type = "custom.googleapis.com/coopguard/incidents"`, iv(t0, t0.Add(time.Hour)), monitoringpb.ListTimeSeriesRequest_HEADERS, 2, 0, codes.OK},
		{"no type", `resource.type = "global"`, iv(t0, t0.Add(time.Hour)), monitoringpb.ListTimeSeriesRequest_FULL, 0, 0, codes.InvalidArgument},
		{"no interval", `metric.type = "custom.googleapis.com/coopguard/incidents"`, nil, monitoringpb.ListTimeSeriesRequest_FULL, 0, 0, codes.InvalidArgument},
		{"reversed interval", `metric.type = "custom.googleapis.com/coopguard/incidents"`, iv(t0.Add(time.Hour), t0), monitoringpb.ListTimeSeriesRequest_FULL, 0, 0, codes.InvalidArgument},
	}
	for _, tt := range lists {
		t.Run("list "+tt.name, func(t *testing.T) {
			series, points := 0, 0
			it := c.metrics.ListTimeSeries(ctx, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: tt.filter, Interval: tt.interval, View: tt.view, PageSize: 1})
			for {
				ts, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					wantCode(t, err, tt.code)
					return
				}
				series++
				points += len(ts.Points)
				for i := 1; i < len(ts.Points); i++ {
					if !ts.Points[i-1].Interval.EndTime.AsTime().After(ts.Points[i].Interval.EndTime.AsTime()) {
						t.Errorf("points not newest first: %v", ts.Points)
					}
				}
			}
			wantCode(t, nil, tt.code)
			if series != tt.series || points != tt.points {
				t.Errorf("got %d series / %d points, want %d / %d", series, points, tt.series, tt.points)
			}
		})
	}

	t.Run("aggregation unsupported", func(t *testing.T) {
		_, err := c.metrics.ListTimeSeries(ctx, &monitoringpb.ListTimeSeriesRequest{
			Name: "projects/p", Filter: `metric.type = "custom.googleapis.com/coopguard/incidents"`, Interval: iv(t0, t0.Add(time.Hour)),
			Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Minute), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_MAX},
		}).Next()
		wantCode(t, err, codes.InvalidArgument)
	})

	got := c.fake.TimeSeries("p", "custom.googleapis.com/coopguard/incidents")
	if len(got) != 2 || len(got[0].Points) != 2 || got[0].Points[0].Value.GetInt64Value() != 2 {
		t.Errorf("TimeSeries = %v", got)
	}
}

// TestAlertPolicyRules pins the API's documented rules for alert policies
// (FIDELITY.md, Monitoring): each case breaks one rule, on create and on
// update.
func TestAlertPolicyRules(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	ch, err := c.channels.CreateNotificationChannel(ctx, &monitoringpb.CreateNotificationChannelRequest{Name: "projects/p", NotificationChannel: pubsubChannel("projects/p/topics/alerts")})
	if err != nil {
		t.Fatal(err)
	}
	logPolicy := func(edit func(p *monitoringpb.AlertPolicy)) *monitoringpb.AlertPolicy {
		p := policy("incidents", ch.Name)
		p.Conditions[0].GetConditionMatchedLog().LabelExtractors = map[string]string{"outcome": "EXTRACT(jsonPayload.outcome)"}
		p.Documentation = &monitoringpb.AlertPolicy_Documentation{Content: "Outcome ${log.extracted_label.outcome}", MimeType: "text/markdown"}
		p.UserLabels = map[string]string{"coopguard-sandbox": "claude-sandbox"}
		if edit != nil {
			edit(p)
		}
		return p
	}
	labels := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name string
		p    *monitoringpb.AlertPolicy
		want codes.Code
	}{
		{"log-match policy with a rate limit", logPolicy(nil), codes.OK},
		{"log-match without notificationRateLimit", logPolicy(func(p *monitoringpb.AlertPolicy) { p.AlertStrategy = nil }), codes.InvalidArgument},
		{"rate limit under 5 minutes", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.AlertStrategy.NotificationRateLimit.Period = durationpb.New(time.Minute)
		}), codes.InvalidArgument},
		{"log-match notifies on CLOSED", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.AlertStrategy.NotificationPrompts = []monitoringpb.AlertPolicy_AlertStrategy_NotificationPrompt{monitoringpb.AlertPolicy_AlertStrategy_CLOSED}
		}), codes.InvalidArgument},
		{"log-match beside another condition", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.Conditions = append(p.Conditions, thresholdPolicy("x", 1).Conditions...)
		}), codes.InvalidArgument},
		{"log-match filter the query language refuses", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.Conditions[0].GetConditionMatchedLog().Filter = `thud="x"`
		}), codes.InvalidArgument},
		{"log-match without a filter", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.Conditions[0].GetConditionMatchedLog().Filter = ""
		}), codes.InvalidArgument},
		{"label extractor not EXTRACT", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.Conditions[0].GetConditionMatchedLog().LabelExtractors["id"] = "jsonPayload.incident.id"
		}), codes.InvalidArgument},
		{"REGEXP_EXTRACT with two groups", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.Conditions[0].GetConditionMatchedLog().LabelExtractors["id"] = `REGEXP_EXTRACT(jsonPayload.incident.id, "(a)(b)")`
		}), codes.InvalidArgument},
		{"six conditions", thresholdPolicy("six", 6), codes.OK},
		{"seven conditions", thresholdPolicy("seven", 7), codes.InvalidArgument},
		{"threshold policy needs no rate limit", thresholdPolicy("one", 1), codes.OK},
		{"threshold filter over 2048 characters", func() *monitoringpb.AlertPolicy {
			p := thresholdPolicy("long", 1)
			p.Conditions[0].GetConditionThreshold().Filter += strings.Repeat(" ", 2048)
			return p
		}(), codes.InvalidArgument},
		{"64 user labels", logPolicy(func(p *monitoringpb.AlertPolicy) { p.UserLabels = labels(64) }), codes.OK},
		{"65 user labels", logPolicy(func(p *monitoringpb.AlertPolicy) { p.UserLabels = labels(65) }), codes.InvalidArgument},
		{"label key starts with a digit", logPolicy(func(p *monitoringpb.AlertPolicy) { p.UserLabels = map[string]string{"1a": "v"} }), codes.InvalidArgument},
		{"label key upper case", logPolicy(func(p *monitoringpb.AlertPolicy) { p.UserLabels = map[string]string{"Sandbox": "v"} }), codes.InvalidArgument},
		{"label value with a dot", logPolicy(func(p *monitoringpb.AlertPolicy) { p.UserLabels = map[string]string{"a": "v.1"} }), codes.InvalidArgument},
		{"label value 64 characters", logPolicy(func(p *monitoringpb.AlertPolicy) { p.UserLabels = map[string]string{"a": strings.Repeat("v", 64)} }), codes.InvalidArgument},
		{"label value 63 characters", logPolicy(func(p *monitoringpb.AlertPolicy) { p.UserLabels = map[string]string{"a": strings.Repeat("v", 63)} }), codes.OK},
		{"display name 513 characters", logPolicy(func(p *monitoringpb.AlertPolicy) { p.DisplayName = strings.Repeat("é", 513) }), codes.InvalidArgument},
		{"documentation 8192 characters", logPolicy(func(p *monitoringpb.AlertPolicy) { p.Documentation.Content = strings.Repeat("a", 8192) }), codes.OK},
		{"documentation 8193 characters", logPolicy(func(p *monitoringpb.AlertPolicy) { p.Documentation.Content = strings.Repeat("a", 8193) }), codes.InvalidArgument},
		{"documentation over 10240 bytes", logPolicy(func(p *monitoringpb.AlertPolicy) { p.Documentation.Content = strings.Repeat("é", 5121) }), codes.InvalidArgument},
		{"documentation as HTML", logPolicy(func(p *monitoringpb.AlertPolicy) { p.Documentation.MimeType = "text/html" }), codes.InvalidArgument},
		{"four documentation links", logPolicy(func(p *monitoringpb.AlertPolicy) {
			for range 4 {
				p.Documentation.Links = append(p.Documentation.Links, &monitoringpb.AlertPolicy_Documentation_Link{DisplayName: "runbook", Url: "https://example.com"})
			}
		}), codes.InvalidArgument},
		{"link without a display name", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.Documentation.Links = []*monitoringpb.AlertPolicy_Documentation_Link{{Url: "https://example.com"}}
		}), codes.InvalidArgument},
		{"channel that does not exist", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.NotificationChannels = []string{"projects/p/notificationChannels/404"}
		}), codes.NotFound},
		{"channel of another project", logPolicy(func(p *monitoringpb.AlertPolicy) {
			p.NotificationChannels = []string{"projects/q/notificationChannels/1"}
		}), codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.policies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{Name: "projects/p", AlertPolicy: tt.p})
			wantCode(t, err, tt.want)
		})
	}
	// The same rules hold on update: a valid log-match policy cannot lose
	// its rate limit, whether replaced whole or through the mask.
	ok, err := c.policies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{Name: "projects/p", AlertPolicy: logPolicy(nil)})
	if err != nil {
		t.Fatal(err)
	}
	whole := logPolicy(func(p *monitoringpb.AlertPolicy) { p.AlertStrategy = nil })
	whole.Name = ok.Name
	_, err = c.policies.UpdateAlertPolicy(ctx, &monitoringpb.UpdateAlertPolicyRequest{AlertPolicy: whole})
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.policies.UpdateAlertPolicy(ctx, &monitoringpb.UpdateAlertPolicyRequest{
		AlertPolicy: &monitoringpb.AlertPolicy{Name: ok.Name},
		UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"alert_strategy"}},
	})
	wantCode(t, err, codes.InvalidArgument)
}

// TestNotificationChannelMutationRecords: a channel is answered with its
// creation record and one mutation record, the latest: the create's after
// the create, the update's after an update, each stamped with the time and
// the caller (the recorded create, update and get of a channel).
func TestNotificationChannelMutationRecords(t *testing.T) {
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	emu.Clock.Set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	ctx := context.Background()
	op, err := emu.Clients(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	created := emu.Clock.Now()
	ch, err := op.Channels.CreateNotificationChannel(ctx, &monitoringpb.CreateNotificationChannelRequest{Name: "projects/p", NotificationChannel: pubsubChannel("projects/p/topics/alerts")})
	if err != nil {
		t.Fatal(err)
	}
	want := func(r *monitoringpb.MutationRecord, at time.Time) bool {
		return r.GetMutateTime().AsTime().Equal(at) && r.GetMutatedBy() == emulator.Operator
	}
	if !want(ch.GetCreationRecord(), created) || len(ch.GetMutationRecords()) != 1 || !want(ch.GetMutationRecords()[0], created) {
		t.Errorf("created channel records: creation %v, mutations %v; want both at %v by %s", ch.GetCreationRecord(), ch.GetMutationRecords(), created, emulator.Operator)
	}
	emu.Clock.Advance(time.Hour)
	updated := emu.Clock.Now()
	ch.DisplayName = "renamed"
	if _, err := op.Channels.UpdateNotificationChannel(ctx, &monitoringpb.UpdateNotificationChannelRequest{NotificationChannel: ch,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := op.Channels.GetNotificationChannel(ctx, &monitoringpb.GetNotificationChannelRequest{Name: ch.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if !want(got.GetCreationRecord(), created) || len(got.GetMutationRecords()) != 1 || !want(got.GetMutationRecords()[0], updated) {
		t.Errorf("updated channel records: creation %v, mutations %v; want the creation kept and one mutation at %v", got.GetCreationRecord(), got.GetMutationRecords(), updated)
	}
}
