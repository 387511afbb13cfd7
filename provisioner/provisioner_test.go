package provisioner_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// latency is injected into every emulated GCP call by the benchmarks.
const latency = 20 * time.Millisecond

func setup(tb testing.TB) (*emulator.Emulator, *provisioner.Provisioner) {
	tb.Helper()
	emu, err := emulator.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { emu.Close() })
	cfg := config.Demo()
	if err := emu.DeployConfig(&cfg); err != nil {
		tb.Fatal(err)
	}
	// The provisioner acts as its deployed identity.
	clients, err := emu.ClientsAs(context.Background(), cfg.Cloud.GCP.Project, emulator.Provisioner(cfg.Cloud.GCP.Project))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { clients.Close() })
	return emu, provisioner.New(&cfg, clients, func(*provisioner.Sandbox) string { return `logName:"cloudaudit.googleapis.com"` })
}

// BenchmarkConverge measures provisioning a new sandbox with 20 ms per GCP
// call against the critical path of its dependency graph (each resource
// weighted by its own measured time), then checks that converging the
// existing sandbox makes no mutating call.
func BenchmarkConverge(b *testing.B) {
	var wall, critical, sequential float64
	for range b.N {
		b.StopTimer()
		emu, p := setup(b)
		emu.Faults.SetDefaultLatency(latency)
		b.StartTimer()
		rep, err := p.Converge(context.Background(), provisioner.Options{})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		wall += rep.Seconds
		critical += rep.CriticalPathSeconds
		for _, r := range rep.Resources {
			sequential += r.Seconds
		}
		before := emu.Faults.TotalMutations()
		rep, err = p.Converge(context.Background(), provisioner.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if d := emu.Faults.TotalMutations() - before; d != 0 {
			b.Fatalf("converging an existing sandbox made %d mutating calls", d)
		}
		for _, r := range rep.Resources {
			if r.Action != provisioner.None {
				b.Fatalf("second converge: %s/%s %s", r.Kind, r.Name, r.Action)
			}
		}
		b.StartTimer()
	}
	n := float64(b.N)
	ratio := wall / critical
	b.ReportMetric(wall/n*1000, "wall-ms")
	b.ReportMetric(critical/n*1000, "critical-path-ms")
	b.ReportMetric(ratio, "wall/critical")
	b.ReportMetric(sequential/n*1000, "sequential-ms")
	if ratio > 1.2 {
		b.Errorf("provisioning took %.2f× its critical path, want ≤ 1.2", ratio)
	}
}

func TestConvergeReportsCriticalPath(t *testing.T) {
	emu, p := setup(t)
	emu.Faults.SetDefaultLatency(2 * time.Millisecond)
	rep, err := p.Converge(context.Background(), provisioner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CriticalPathSeconds <= 0 || rep.CriticalPathSeconds > rep.Seconds*1.01 {
		t.Errorf("critical path %.3fs vs wall %.3fs: the critical path cannot exceed the wall time", rep.CriticalPathSeconds, rep.Seconds)
	}
	waves := map[string]int{}
	for _, r := range rep.Resources {
		waves[r.Kind] = max(waves[r.Kind], r.Wave)
	}
	if waves["network"] != 0 || waves["subnetwork"] != 1 || waves["instance"] != 2 || waves["alertPolicy"] != 2 {
		t.Errorf("waves = %v, want network 0, subnetwork 1, instance 2, alertPolicy 2", waves)
	}
}

// TestProvisionEnablesGuestAttributes pins that the sandbox VM is made
// with metadata enable-guest-attributes=TRUE (GCE refuses the watcher's
// guest attribute without it), that a VM made without it gets it on the
// next converge, and that converging again changes nothing.
func TestProvisionEnablesGuestAttributes(t *testing.T) {
	emu, p := setup(t)
	cfg := config.Demo()
	ctx := context.Background()
	enabled := func() string {
		inst, ok := emu.Compute.Instance(cfg.Cloud.GCP.Project, cfg.Cloud.GCP.Zone, cfg.VM.Name)
		if !ok {
			t.Fatal("no sandbox VM")
		}
		for _, it := range inst.GetMetadata().GetItems() {
			if it.GetKey() == "enable-guest-attributes" {
				return it.GetValue()
			}
		}
		return ""
	}
	steps := []struct {
		name    string
		before  func()
		want    string
		mutates bool
	}{
		{"a new sandbox", func() {}, "TRUE", true},
		{"converging again", func() {}, "TRUE", false},
		{"a VM that lost it", func() {
			emu.Compute.SeedInstance(cfg.Cloud.GCP.Project, cfg.Cloud.GCP.Zone, &computepb.Instance{Name: proto.String(cfg.VM.Name),
				Labels: map[string]string{config.SandboxLabel: cfg.VM.Name}})
		}, "TRUE", true},
		{"and again", func() {}, "TRUE", false},
	}
	for _, s := range steps {
		s.before()
		before := emu.Faults.TotalMutations()
		if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := enabled(); got != s.want {
			t.Errorf("%s: enable-guest-attributes = %q, want %q", s.name, got, s.want)
		}
		if mutated := emu.Faults.TotalMutations() != before; mutated != s.mutates {
			t.Errorf("%s: mutated = %v, want %v", s.name, mutated, s.mutates)
		}
	}
}

// TestConvergeRecreatesDeletedFirewall: a firewall rule someone deleted is
// made again by the next converge. Compute answers a request id it has
// seen with the old operation, so a converge must not reuse the id of the
// insert that first made it.
func TestConvergeRecreatesDeletedFirewall(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Demo()
	op, err := emu.Clients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	const rule = "coopguard-claude-sandbox-deny-ingress"
	del, err := op.Firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: cfg.Cloud.GCP.Project, Firewall: rule})
	if err == nil {
		err = del.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fw := range emu.Compute.Firewalls(cfg.Cloud.GCP.Project) {
		found = found || fw.GetName() == rule
	}
	if !found {
		t.Errorf("converge reported the deleted %s made, but it does not exist", rule)
	}
}

// TestConvergeDefinesCoopguardMetrics: a sandbox holding
// roles/monitoring.metricWriter defines coopguard's incident metric first,
// with another value type (the service then refuses coopguard's points);
// Provision puts back the descriptor coopguard writes, and coopguard's
// point is accepted again.
func TestConvergeDefinesCoopguardMetrics(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	sbx, err := emu.ClientsAs(ctx, cfg.Cloud.GCP.Project, cfg.Cloud.GCP.ServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	defer sbx.Close()
	if _, err := sbx.Metrics.CreateMetricDescriptor(ctx, &monitoringpb.CreateMetricDescriptorRequest{Name: "projects/" + cfg.Cloud.GCP.Project, MetricDescriptor: &metric.MetricDescriptor{
		Type: report.MetricType, MetricKind: metric.MetricDescriptor_GAUGE, ValueType: metric.MetricDescriptor_STRING,
	}}); err != nil {
		t.Fatal(err)
	}
	op, err := emu.Clients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	write := func(at time.Time) error {
		return op.Metrics.CreateTimeSeries(ctx, &monitoringpb.CreateTimeSeriesRequest{Name: "projects/" + cfg.Cloud.GCP.Project, TimeSeries: []*monitoringpb.TimeSeries{{
			Metric:   &metric.Metric{Type: report.MetricType, Labels: map[string]string{"playbook": "contain", "source": "alert", "outcome": "contained"}},
			Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": cfg.Cloud.GCP.Project}},
			Points: []*monitoringpb.Point{{Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(at)},
				Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1.5}}}},
		}}})
	}
	if err := write(emu.Clock.Now()); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("coopguard's point under the sandbox's descriptor = %v, want INVALID_ARGUMENT", err)
	}
	rep, err := p.Converge(ctx, provisioner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range rep.Resources {
		if r.Kind == "metricDescriptor" {
			actions = append(actions, r.Name+" "+string(r.Action))
		}
	}
	if want := []string{report.MetricType + " update", provisioner.RotationDueMetric + " create"}; !slices.Equal(actions, want) {
		t.Errorf("metric descriptors = %v, want %v", actions, want)
	}
	if err := write(emu.Clock.Now().Add(time.Minute)); err != nil {
		t.Errorf("coopguard's point after Provision: %v", err)
	}
}
