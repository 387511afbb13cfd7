package respond_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// quiet is a context whose logger discards: benchmarks and storms log a lot.
var quiet = logger.WithLogger(context.Background(), logger.New(io.Discard, slog.LevelError))

// env is an emulated project with sandbox VMs and a Responder.
type env struct {
	emu     *emulator.Emulator
	cfg     *config.Config
	clients *gcp.Clients
	r       *respond.Responder
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	emu, err := emulator.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { emu.Close() })
	cfg := config.Demo()
	cfg.Coopguard.AgentStopTimeout = config.Duration{Duration: 2 * time.Second}
	ctx := context.Background()
	clients, err := emu.Clients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { clients.Close() })
	if _, err := clients.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + cfg.Cloud.GCP.Project + "/topics/" + cfg.Coopguard.Topics.Incidents}); err != nil {
		tb.Fatal(err)
	}
	rec := report.New(clients, cfg.Coopguard.Topics.Incidents)
	tb.Cleanup(rec.Stop)
	// The VM side of stop-agents: the watcher confirms as soon as the flag
	// is set. (test/e2e runs the real watcher script and tmux.)
	emu.Faults.OnCall(func(method string) {
		if method == "compute.instances.setMetadata" {
			for _, inst := range emu.Compute.Instances(cfg.Cloud.GCP.Project) {
				emu.Compute.SetGuestAttribute(cfg.Cloud.GCP.Project, cfg.Cloud.GCP.Zone, inst.GetName(), watcher.GuestNamespace, watcher.GuestKey, "stopped 1")
			}
		}
	})
	return &env{emu: emu, cfg: &cfg, clients: clients, r: respond.New(&cfg, clients, rec, nil)}
}

// sandboxVM seeds a labelled, running VM with a boot disk and returns its id.
func (e *env) sandboxVM(name string) string {
	inst := e.emu.Compute.SeedInstance(e.cfg.Cloud.GCP.Project, e.cfg.Cloud.GCP.Zone, &computepb.Instance{
		Name:   proto.String(name),
		Labels: map[string]string{config.SandboxLabel: name},
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{DiskName: proto.String(name), DiskSizeGb: proto.Int64(10)}}},
		Metadata: &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String(watcher.MetadataKey), Value: proto.String("run")}}},
	})
	return strconv.FormatUint(inst.GetId(), 10)
}

func (e *env) incident(id, vmID, playbook string) incident.Incident {
	return incident.Incident{ID: id, Source: incident.SourceAlert, Trigger: "bench", Playbook: playbook, Severity: "CRITICAL",
		Project: e.cfg.Cloud.GCP.Project, Zone: e.cfg.Cloud.GCP.Zone, InstanceID: vmID, StartedAt: time.Now()}
}

// TestStormMutatesOncePerAction delivers one incident 1,000 times at once:
// exactly one mutating call per action.
func TestStormMutatesOncePerAction(t *testing.T) {
	e := newEnv(t)
	e.emu.SecretManager.SeedSecret(e.cfg.Cloud.GCP.Project, "anthropic-api-key", []byte("k1"), []byte("k2"))
	vm := e.sandboxVM("claude-sandbox")
	inc := e.incident("alert-storm", vm, incident.PlaybookContain)
	var wg sync.WaitGroup
	errs := make([]error, 1000)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.r.Respond(quiet, inc, time.Now()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	m := e.emu.Faults.MutationSnapshot()
	want := map[string]int{
		"compute.instances.setLabels": 1, "compute.instances.setMetadata": 1, "compute.instances.stop": 1, "compute.disks.createSnapshot": 1,
		"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion": 2, // two enabled versions, one call each
		"google.logging.v2.LoggingServiceV2/WriteLogEntries":                      1, // one report
	}
	for method, n := range want {
		if m[method] != n {
			t.Errorf("%s: %d mutating calls, want %d (all: %v)", method, m[method], n, m)
		}
	}
}

// BenchmarkContainment measures event received → last action confirmed
// with 20 ms injected per GCP call, against the critical path of the
// contain playbook's DAG (each action weighted by its measured time), and
// the same actions run one at a time as a simple responder would.
func BenchmarkContainment(b *testing.B) {
	e := newEnv(b)
	e.emu.SecretManager.SeedSecret(e.cfg.Cloud.GCP.Project, "anthropic-api-key", []byte("k1"))
	e.emu.Faults.SetDefaultLatency(20 * time.Millisecond)
	var contain, critical, sequential float64
	for i := range b.N {
		b.StopTimer()
		vm := e.sandboxVM(fmt.Sprintf("sandbox-%d", i))
		b.StartTimer()
		rep, err := e.r.Respond(quiet, e.incident(fmt.Sprintf("bench-%d", i), vm, incident.PlaybookContain), time.Now())
		b.StopTimer()
		if err != nil || rep.Outcome != incident.OutcomeContained {
			b.Fatalf("outcome %s: %v %+v", rep.Outcome, err, rep.Actions)
		}
		contain += rep.ContainmentSeconds
		critical += rep.CriticalPathSeconds
		for _, a := range rep.Actions {
			sequential += a.Seconds
		}
		b.StartTimer()
	}
	n := float64(b.N)
	ratio := contain / critical
	b.ReportMetric(contain/n*1000, "containment-ms")
	b.ReportMetric(critical/n*1000, "critical-path-ms")
	b.ReportMetric(ratio, "containment/critical")
	b.ReportMetric(sequential/n*1000, "sum-of-actions-ms")
	if ratio > 1.15 {
		b.Errorf("containment took %.2f× the DAG's critical path, want ≤ 1.15", ratio)
	}
}
