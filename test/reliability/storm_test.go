package reliability

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// storm is a shuffled mix of deliveries for many sandboxes: for the
// sandboxes that should be contained, an open incident delivered many
// times with its closed notification before and after it; for the others,
// only closed incidents and test notifications.
type storm struct {
	events    []event.Event
	contain   map[string]bool // VM name → should end contained
	sandboxes int
}

const (
	stormSandboxes = 50
	stormContained = 40
	stormEvents    = 1000
)

func newStorm(tb testing.TB, e *fixture.Env) *storm {
	tb.Helper()
	s := &storm{contain: map[string]bool{}, sandboxes: stormSandboxes}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range stormSandboxes {
		name := fmt.Sprintf("sandbox-%02d", i)
		id := e.SandboxVM(name)
		e.OwnSurroundings(tb, []string{name}, []byte("sk-test-"+fixture.SecretMarker+"-"+name))
		incID := "storm-" + strconv.Itoa(i)
		hostile := i >= stormContained
		s.contain[name] = !hostile
		per := stormEvents / stormSandboxes
		for j := range per {
			state := events.IncidentOpen
			switch {
			case hostile && j%2 == 0:
				state = events.IncidentClosed
			case hostile:
				s.events = append(s.events, alertEvent(tb, e, events.MonitoringIncident{Version: "test", IncidentID: "12345", State: events.IncidentOpen}, j))
				continue
			case j%5 == 0:
				state = events.IncidentClosed // out of order: closed before, between and after the opens
			}
			s.events = append(s.events, alertEvent(tb, e, events.MonitoringIncident{
				Version: "1.2", IncidentID: incID, State: state, PolicyName: provisioner.AlertPolicyName(name),
				PolicyUserLabels: map[string]string{"coopguard-playbook": "contain"},
				Resource: events.MonitoredResource{Type: "gce_instance", Labels: map[string]string{
					"instance_id": id, "zone": e.Cfg.Cloud.GCP.Zone, "project_id": e.Cfg.Cloud.GCP.Project}},
				StartedAt: time.Now(), Summary: "storm",
			}, j))
		}
	}
	rng.Shuffle(len(s.events), func(i, j int) { s.events[i], s.events[j] = s.events[j], s.events[i] })
	return s
}

// alertEvent is an Eventarc CloudEvent carrying m.
func alertEvent(tb testing.TB, e *fixture.Env, m events.MonitoringIncident, seq int) event.Event {
	tb.Helper()
	payload, err := events.EncodeIncident(m)
	if err != nil {
		tb.Fatal(err)
	}
	id := m.IncidentID + "-" + strconv.Itoa(seq)
	data, _ := json.Marshal(map[string]any{"message": map[string]any{
		"data": base64.StdEncoding.EncodeToString(payload), "messageId": id,
	}, "subscription": "projects/" + e.Cfg.Cloud.GCP.Project + "/subscriptions/storm"})
	ev := event.New()
	ev.SetID(id)
	ev.SetType(events.PubSubMessagePublished)
	ev.SetSource("//pubsub.googleapis.com/projects/" + e.Cfg.Cloud.GCP.Project + "/topics/coopguard-alerts")
	if err := ev.SetData("application/json", data); err != nil {
		tb.Fatal(err)
	}
	return ev
}

// run delivers every event through HandleAlert with bounded concurrency,
// as Pub/Sub push would, redelivering on error, and returns the errors of
// deliveries that never succeeded.
func (s *storm) run(ctx context.Context, env *functions.Env) []error {
	work := make(chan event.Event)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for ev := range work {
				var err error
				for range 5 { // Pub/Sub redelivers what fails
					if err = env.HandleAlert(ctx, ev); err == nil {
						break
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", ev.ID(), err))
					mu.Unlock()
				}
			}
		})
	}
	for _, ev := range s.events {
		work <- ev
	}
	close(work)
	wg.Wait()
	return errs
}

// stormEnv is an emulated project and the functions' Env on it.
func stormEnv(tb testing.TB) (*fixture.Env, *functions.Env) {
	tb.Helper()
	e := fixture.New(tb)
	// The functions' own clients, as deployed: the default quotas and the
	// default bound on a Compute request (the fixture's 3 s is for the
	// fault matrices' hung calls; a storm of 64 deliveries queues
	// healthy calls longer than that on a loaded machine).
	opts := e.Emu.OptionsAs(emulator.Responder(e.Cfg.Cloud.GCP.Project))
	opts.Limits = &gcp.DefaultLimits
	clients, err := gcp.New(context.Background(), e.Cfg.Cloud.GCP.Project, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { clients.Close() })
	env, err := functions.NewEnv(e.Cfg, clients, logger.New(io.Discard, slog.LevelError+100), functions.WithStore(e.Store), functions.WithClock(e.Emu.Clock.Now))
	if err != nil {
		tb.Fatal(err)
	}
	return e, env
}

// TestStorm: every sandbox that should be contained is, none that should
// not is, and each action mutates once per sandbox.
func TestStorm(t *testing.T) {
	e, env := stormEnv(t)
	s := newStorm(t, e)
	before := e.Emu.Faults.MutationSnapshot()
	if errs := s.run(fixture.Quiet, env); len(errs) > 0 {
		t.Fatalf("%d deliveries failed; first: %v", len(errs), errs[0])
	}
	// The answers came with the stops requested; the Scheduler's passes
	// finish the follow-ups (each snapshot once).
	e.FinishFollowUps(t, e.Responder)
	for name, want := range s.contain {
		st := e.Instance(name).GetStatus()
		if want != (st == "TERMINATED") {
			t.Errorf("%s: %s, want contained=%v", name, st, want)
		}
	}
	// Counted from the storm on: provisioning mutated too.
	m := e.Emu.Faults.MutationSnapshot()
	for _, method := range []string{"compute.instances.stop", "compute.instances.setLabels", "compute.instances.setMetadata", "compute.disks.createSnapshot",
		"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion"} {
		if n := m[method] - before[method]; n != stormContained {
			t.Errorf("%s: %d mutating calls for %d contained sandboxes, want one each", method, n, stormContained)
		}
	}
	// Each sandbox has its own key: a contained sandbox's is disabled, no
	// other sandbox's (nor the configured sandbox's) is touched.
	for name, want := range s.contain {
		for _, id := range e.Cfg.SandboxSecrets(name) {
			for _, v := range e.Emu.SecretManager.Versions("projects/" + e.Cfg.Cloud.GCP.Project + "/secrets/" + id) {
				if disabled := v.GetState() == secretmanagerpb.SecretVersion_DISABLED; disabled != want {
					t.Errorf("%s: key version %s is %s, want disabled=%v", name, v.GetName(), v.GetState(), want)
				}
			}
		}
	}
	if got := e.VersionStates(); !slices.Equal(got, []string{"ENABLED"}) {
		t.Errorf("the configured sandbox's key versions are %v, want [ENABLED]: containing other sandboxes touched it", got)
	}
	var sawLimit bool
	for _, th := range env.Clients.Throttles() {
		t.Logf("rate limits: %s: %d calls, waited %.2fs in total, at most %d in flight", th.API, th.Calls, th.Waited, th.InLimit)
		sawLimit = sawLimit || th.Calls > 0
	}
	if !sawLimit {
		t.Error("no call went through the rate limits")
	}
}

// BenchmarkStorm reports storm throughput (deliveries per second) and the
// mutating calls per contained sandbox.
func BenchmarkStorm(b *testing.B) {
	var secs float64
	var muts int
	for range b.N {
		b.StopTimer()
		e, env := stormEnv(b)
		s := newStorm(b, e)
		before := e.Emu.Faults.MutationSnapshot()
		b.StartTimer()
		start := time.Now()
		if errs := s.run(fixture.Quiet, env); len(errs) > 0 {
			b.Fatal(errs[0])
		}
		secs += time.Since(start).Seconds()
		m := e.Emu.Faults.MutationSnapshot()
		for _, method := range []string{"compute.instances.stop", "compute.instances.setLabels", "compute.instances.setMetadata", "compute.disks.createSnapshot"} {
			muts += m[method] - before[method]
		}
	}
	b.ReportMetric(float64(stormEvents*b.N)/secs, "events/s")
	b.ReportMetric(float64(muts)/float64(stormContained*b.N), "compute-mutations/sandbox")
}
