// Package pubsubemu runs coopguard's event functions behind the real
// Pub/Sub emulator shipped with the Google Cloud CLI: topics and push
// subscriptions with a dead-letter policy, created as deploy creates them,
// push into the functions framework on loopback, which serves the
// functions over the emulated GCP.
package pubsubemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
	"github.com/cloudcoop/coopguard/test/emulator/gcloudsdk"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// emulatorBin is the Pub/Sub emulator of the machine's Google Cloud CLI.
var emulatorBin = gcloudsdk.Platform("pubsub-emulator", "bin", "cloud-pubsub-emulator")

// maxAttempts is the subscriptions' dead-letter bound: Pub/Sub's minimum,
// to keep the test short (deploy uses 10).
const maxAttempts = 5

// Names as deploy/lib.sh has them.
const (
	topicDeadLetter = "coopguard-dead-letter"
	subDeadLetter   = "coopguard-dead-letter-sub"
)

func TestMain(m *testing.M) {
	os.Unsetenv("FUNCTION_TARGET")
	// The worlds' incident store: its emulator (Java) starts while the
	// test starts the Pub/Sub emulator (Java too); a failure is reported
	// by the first world that opens a store.
	go func() { _, _ = firestoreemu.Shared() }()
	os.Exit(m.Run())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pubsubEmulator is a running cloud-pubsub-emulator and a client of it.
type pubsubEmulator struct {
	addr   string
	client *pubsub.Client
	out    *fixture.Buffer
}

// startEmulator starts the real emulator on a free loopback port, waits
// until it answers, and kills its process group (the launcher script and
// the java it spawns) when the test ends.
func startEmulator(t *testing.T) *pubsubEmulator {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is not on PATH (%v): the Pub/Sub emulator needs Java 17+; install a JRE (apt-get install openjdk-17-jre-headless)", err)
	}
	if _, err := os.Stat(emulatorBin); err != nil {
		t.Fatalf("the Pub/Sub emulator is missing (%v): install it with `gcloud components install pubsub-emulator` or apt-get install google-cloud-cli-pubsub-emulator", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	out := &fixture.Buffer{}
	cmd := exec.Command(emulatorBin, "--host=127.0.0.1", "--port="+strconv.Itoa(port))
	// The launcher passes JAVA_OPTS to java: C1 only, as firestoreemu
	// runs its emulator (the optimising compiler costs more CPU than it
	// wins back in a test).
	cmd.Env = append(os.Environ(), "JAVA_OPTS=-XX:TieredStopAtLevel=1")
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so the cleanup kills the launcher and the
	// java it runs; Pdeathsig, so a test binary killed before its cleanup
	// (a -timeout panic, a closed pipe) does not leave java behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", emulatorBin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("Pub/Sub emulator (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
	})

	client, err := pubsub.NewClient(context.Background(), "coopguard-local",
		option.WithEndpoint(addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	// Ready when it answers an RPC: a missing topic is NotFound.
	deadline := time.Now().Add(45 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: "projects/coopguard-local/topics/ready-probe"})
		cancel()
		if status.Code(err) == codes.NotFound {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the Pub/Sub emulator exited before answering:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Pub/Sub emulator did not answer on %s within 45 s (last error %v):\n%s", addr, err, out.String())
		}
		<-time.After(100 * time.Millisecond)
	}
	return &pubsubEmulator{addr: addr, client: client, out: out}
}

// deploy creates what deploy/deploy.sh creates on Pub/Sub, in project:
// the topics, the dead-letter topic and its subscription, and for each
// event function a push subscription with the dead-letter policy, pushing
// to the functions at url. Run again, as deploy converges, it points the
// push subscriptions at url.
func (e *pubsubEmulator) deploy(t *testing.T, cfg *config.Config, project, url string) {
	t.Helper()
	ctx := context.Background()
	topic := func(id string) string { return "projects/" + project + "/topics/" + id }
	tp := cfg.Coopguard.Topics
	for _, id := range []string{tp.Alerts, tp.Logs, tp.Rotation, tp.Incidents, topicDeadLetter} {
		if _, err := e.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic(id), Labels: map[string]string{"coopguard": "true"}}); err != nil && status.Code(err) != codes.AlreadyExists {
			t.Fatalf("create topic %s: %v", id, err)
		}
	}
	if _, err := e.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:                     "projects/" + project + "/subscriptions/" + subDeadLetter,
		Topic:                    topic(topicDeadLetter),
		MessageRetentionDuration: durationpb.New(7 * 24 * time.Hour),
	}); err != nil && status.Code(err) != codes.AlreadyExists {
		t.Fatalf("create %s: %v", subDeadLetter, err)
	}
	for name, id := range map[string]string{"HandleAlert": tp.Alerts, "HandleLogEntry": tp.Logs, "RotateKeys": tp.Rotation} {
		sub := "projects/" + project + "/subscriptions/eventarc-local-" + strings.ToLower(name) + "-sub"
		push := &pubsubpb.PushConfig{PushEndpoint: url + "/" + name + "/" + topic(id)}
		_, err := e.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name:               sub,
			Topic:              topic(id),
			PushConfig:         push,
			AckDeadlineSeconds: 60,
			DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{
				DeadLetterTopic:     topic(topicDeadLetter),
				MaxDeliveryAttempts: maxAttempts,
			},
			// deploy: --min-retry-delay=10s --max-retry-delay=600s;
			// shortened so five attempts take seconds.
			RetryPolicy: &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(100 * time.Millisecond), MaximumBackoff: durationpb.New(time.Second)},
		})
		if status.Code(err) == codes.AlreadyExists {
			err = e.client.SubscriptionAdminClient.ModifyPushConfig(ctx, &pubsubpb.ModifyPushConfigRequest{Subscription: sub, PushConfig: push})
		}
		if err != nil {
			t.Fatalf("create the push subscription of %s: %v", name, err)
		}
	}
}

func (e *pubsubEmulator) publish(t *testing.T, topic string, data []byte, attrs map[string]string) string {
	t.Helper()
	p := e.client.Publisher(topic)
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		t.Fatalf("publish to %s: %v", topic, err)
	}
	return id
}

// world is one emulated GCP with a provisioned sandbox, and the functions
// served on its Env, where ps pushes.
type world struct {
	emu *emulator.Emulator
	cfg *config.Config
	// psProject holds the world's topics and subscriptions in the Pub/Sub
	// emulator.
	psProject string
	env       *functions.Env
	url       string
	vmID      string
	logs      *fixture.Buffer
}

// newWorld deploys the Pub/Sub side into psProject, a project of the
// world's own in the shared Pub/Sub emulator, so worlds run side by side.
func newWorld(t *testing.T, ps *pubsubEmulator, psProject string) *world {
	t.Helper()
	// No watcher runs on this VM: do not wait 20 s for its confirmation.
	f := fixture.NewFunctions(t, func(c *config.Config) {
		c.Coopguard.AgentStopTimeout = config.Duration{Duration: 50 * time.Millisecond}
	})
	emu, cfg, env, logs := f.Emu, f.Cfg, f.Env, f.Logs
	url := f.Serve(t)
	ps.deploy(t, cfg, psProject, url)

	resp, err := http.Post(url+"/Provision", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Provision = %s: %s", resp.Status, b)
	}
	inst, ok := emu.Compute.Instance(cfg.Cloud.GCP.Project, cfg.Cloud.GCP.Zone, cfg.VM.Name)
	if !ok {
		t.Fatal("no sandbox VM after Provision")
	}
	return &world{emu: emu, cfg: cfg, psProject: psProject, env: env, url: url, vmID: strconv.FormatUint(inst.GetId(), 10), logs: logs}
}

// alert is the shared sample open incident, about this world's VM and
// from the CPU policy Provision made for it (HandleAlert acts on no other).
func (w *world) alert(t *testing.T, incidentID string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "monitoring-incident-open.json"))
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	return []byte(strings.NewReplacer(
		"coopguard-demo", w.cfg.Cloud.GCP.Project,
		"4410915023349531000", w.vmID,
		"0.n1m3x8a2b7kq", incidentID,
		`"coopguard sandbox CPU"`, strconv.Quote(provisioner.AlertPolicyName(w.cfg.VM.Name)),
	).Replace(string(b)))
}

// topic is the full name of the world's topic id in the Pub/Sub emulator.
func (w *world) topic(id string) string {
	return "projects/" + w.psProject + "/topics/" + id
}

func (w *world) vmStatus() string {
	inst, _ := w.emu.Compute.Instance(w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone, w.cfg.VM.Name)
	return inst.GetStatus()
}

func (w *world) versionStates() []string {
	var out []string
	for _, v := range w.emu.SecretManager.Versions("projects/" + w.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key") {
		out = append(out, v.GetState().String())
	}
	return out
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// TestPushSubscriptions runs the production delivery path on the real
// emulator: push, redelivery, dead-letter.
func TestPushSubscriptions(t *testing.T) {
	start := time.Now()
	ps := startEmulator(t)
	t.Logf("Pub/Sub emulator answered after %.1fs", time.Since(start).Seconds())

	t.Run("alert contains the sandbox", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ps, "coopguard-push-contain")
		ps.publish(t, w.topic(w.cfg.Coopguard.Topics.Alerts), w.alert(t, "0.pushcontain"), nil)
		// Status lists the incident from its claim on (claimed, then
		// acting); once it shows a final outcome the response is over and
		// the world can be torn down.
		// On GCP's operation times the answer comes with the VM's stop
		// requested (STOPPING); the follow-up sees it TERMINATED.
		eventually(t, 20*time.Second, "the VM's stop requested, the key DISABLED and the report recorded", func() bool {
			o := reportOutcome(t, w, "alert-0.pushcontain")
			return w.vmStatus() != "RUNNING" && strings.Join(w.versionStates(), ",") == "DISABLED" &&
				o != "" && o != "claimed" && o != "acting"
		})
		if got := reportOutcome(t, w, "alert-0.pushcontain"); got != "contained" {
			t.Errorf("outcome = %q, want contained", got)
		}
	})

	t.Run("poison acknowledged, failure dead-lettered", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ps, "coopguard-push-deadletter")
		// Every delivery of an incident fails: the VM will not stop.
		w.env.Responder.SetRetryPolicy(retry.Policy{Attempts: 2, Initial: 5 * time.Millisecond, Max: 10 * time.Millisecond, PerTry: 5 * time.Second})
		w.emu.Faults.FailNext("compute.instances.stop", 1000, faults.Fault{Code: codes.Unavailable})

		poisonID := ps.publish(t, w.topic(w.cfg.Coopguard.Topics.Alerts), []byte("this is not JSON"), map[string]string{"kind": "poison"})
		failing := w.alert(t, "0.pushfails")
		failID := ps.publish(t, w.topic(w.cfg.Coopguard.Topics.Alerts), failing, map[string]string{"kind": "failing"})

		dead := pullAll(t, ps.client, "projects/"+w.psProject+"/subscriptions/"+subDeadLetter, 1, 40*time.Second)
		m := dead[0]
		if m.Attributes["kind"] != "failing" || !bytes.Equal(m.Data, failing) {
			t.Fatalf("dead letter = %q %v, want the failing incident", m.Data, m.Attributes)
		}
		if got := m.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"]; got != strconv.Itoa(maxAttempts) {
			t.Errorf("dead letter after %s deliveries, want %d", got, maxAttempts)
		}
		if got := w.emu.Faults.Calls("compute.instances.stop"); got < maxAttempts*2 {
			t.Errorf("compute.instances.stop called %d times, want at least %d (%d deliveries × 2 tries)", got, maxAttempts*2, maxAttempts)
		}
		if n := deliveriesOf(w.logs.String(), failID, "incident incomplete"); n != maxAttempts {
			t.Errorf("the failing message was handled %d times, want %d (max delivery attempts)", n, maxAttempts)
		}
		if n := deliveriesOf(w.logs.String(), poisonID, "undecodable Monitoring notification: acknowledged and dropped"); n != 1 {
			t.Errorf("the poison message was handled %d times, want once (acknowledged)", n)
		}
		if !strings.Contains(w.logs.String(), "undecodable Monitoring notification: acknowledged and dropped") {
			t.Errorf("no acknowledgement logged for the poison message:\n%s", w.logs.String())
		}
		if w.vmStatus() != "RUNNING" {
			t.Errorf("VM %s, want RUNNING (every stop failed)", w.vmStatus())
		}
	})
}

// reportOutcome is the outcome of incident id as Status lists it, or "".
func reportOutcome(t *testing.T, w *world, id string) string {
	t.Helper()
	resp, err := http.Get(w.url + "/Status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st functions.StatusReport
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("Status: %s: %v", resp.Status, err)
	}
	for _, r := range st.Incidents {
		if r.Incident.ID == id {
			return r.Outcome
		}
	}
	return ""
}

// deliveriesOf counts the handler invocations for a message: each logs
// one line with the event (message) id and the final message last.
func deliveriesOf(logs, messageID, last string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["event"] != messageID {
			continue
		}
		if rec["message"] == last {
			n++
		}
	}
	return n
}

// pullAll receives n messages from sub (acknowledging them) within the
// deadline.
func pullAll(t *testing.T, c *pubsub.Client, sub string, n int, within time.Duration) []*pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var mu sync.Mutex
	var got []*pubsub.Message
	err := c.Subscriber(sub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		if len(got) >= n {
			cancel()
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("pull %s: %v", sub, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < n {
		t.Fatalf("%d message(s) on %s after %s, want %d", len(got), sub, within, n)
	}
	return got
}
