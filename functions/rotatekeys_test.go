package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

var rotT0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

const rotDay = 24 * time.Hour

// rotWorld is one rotation test's emulated GCP, Env and captured log.
type rotWorld struct {
	emu  *emulator.Emulator
	env  *Env
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newRotWorld starts an emulated GCP at rotT0 with the demo config
// (secret anthropic-api-key, whose versions are created ages before rotT0,
// oldest first), the incidents topic, and an Env on the emulated clock.
func newRotWorld(t *testing.T, ages []time.Duration, mutate ...func(*config.Config)) *rotWorld {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	emu.Clock.Set(rotT0)
	base := config.Demo()
	for _, m := range mutate {
		m(&base)
	}
	cfg, err := config.FromBase(base, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clients, err := emu.Clients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	if _, err := clients.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + cfg.Cloud.GCP.Project + "/topics/" + cfg.Coopguard.Topics.Incidents}); err != nil {
		t.Fatal(err)
	}
	payloads := make([][]byte, len(ages))
	for i := range ages {
		payloads[i] = []byte(fmt.Sprintf("sk-ant-PAYLOAD-%d", i+1))
	}
	emu.SecretManager.SeedSecret(cfg.Cloud.GCP.Project, "anthropic-api-key", payloads...)
	for i, a := range ages {
		emu.SecretManager.SetVersionCreateTime(fmt.Sprintf("projects/%s/secrets/anthropic-api-key/versions/%d", cfg.Cloud.GCP.Project, i+1), rotT0.Add(-a))
	}
	logs := &lockedBuffer{}
	if _, err := firestoreemu.Shared(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), "rotation-"+strconv.FormatInt(rotStores.Add(1), 10), store.Options{Now: emu.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env, err := NewEnv(cfg, clients, logger.New(logs, slog.LevelDebug), WithStore(st), WithClock(emu.Clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return &rotWorld{emu: emu, env: env, logs: logs}
}

func (w *rotWorld) states() []string {
	var out []string
	for _, v := range w.emu.SecretManager.Versions("projects/" + w.env.Config.Cloud.GCP.Project + "/secrets/anthropic-api-key") {
		out = append(out, v.GetState().String())
	}
	return out
}

// rotationRecords are the rotation-due messages on the incidents topic.
func (w *rotWorld) rotationRecords() []map[string]any {
	var out []map[string]any
	for _, m := range w.emu.PubSub.Messages() {
		if m.Attributes["type"] != RotationDueType {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(m.Data, &rec); err == nil {
			rec["attributes"] = m.Attributes
			out = append(out, rec)
		}
	}
	return out
}

// sampleMessage reads a {attributes, data} sample from ../testdata/samples.
func sampleMessage(t *testing.T, file string) events.PubSubMessage {
	t.Helper()
	raw, err := os.ReadFile("../testdata/samples/" + file)
	if err != nil {
		t.Fatal(err)
	}
	// Secret Manager names the secret by its project's number: the
	// sample's is the emulated demo project's here.
	raw = []byte(strings.ReplaceAll(string(raw), "projects/123456789012/", "projects/"+demoNumber()+"/"))
	var s struct {
		Attributes map[string]string `json:"attributes"`
		Data       json.RawMessage   `json:"data"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return events.PubSubMessage{Attributes: s.Attributes, Data: s.Data, MessageID: "m-" + file, PublishTime: rotT0}
}

// demoNumber is the project number of the demo config's project, as
// every emulated service answers it.
func demoNumber() string {
	return strconv.FormatInt(resourcemanager.ProjectNumber(config.Demo().Cloud.GCP.Project), 10)
}

// rotationEvent wraps msg as the Eventarc CloudEvent RotateKeys receives.
func rotationEvent(t *testing.T, msg events.PubSubMessage) event.Event {
	t.Helper()
	data, err := events.EncodePubSub(msg)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	ev.SetID(msg.MessageID)
	ev.SetType(events.PubSubMessagePublished)
	ev.SetSource("//pubsub.googleapis.com/projects/coopguard-local/topics/coopguard-rotation")
	if err := ev.SetData("application/json", data); err != nil {
		t.Fatal(err)
	}
	return ev
}

// rotStores numbers the tests' incident stores (projects in the one
// Firestore emulator of this test binary).
var rotStores atomic.Int64

func TestRotateKeysSchedulerAndSecretRotateDriveThePolicy(t *testing.T) {
	for _, sample := range []string{"scheduler-rotation-message.json", "secretmanager-rotate-notification.json"} {
		t.Run(sample, func(t *testing.T) {
			w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay})
			if err := w.env.RotateKeys(context.Background(), rotationEvent(t, sampleMessage(t, sample))); err != nil {
				t.Fatal(err)
			}
			if got := w.states(); strings.Join(got, ",") != "DISABLED,ENABLED" {
				t.Errorf("states = %v, want the superseded version disabled and the newest kept", got)
			}
			logs := w.logs.String()
			if !strings.Contains(logs, `"severity":"WARNING","message":"rotation due"`) {
				t.Errorf("no WARNING rotation due line in\n%s", logs)
			}
			if strings.Contains(logs, "PAYLOAD") {
				t.Error("a payload reached the log")
			}
			recs := w.rotationRecords()
			if len(recs) != 1 {
				t.Fatalf("%d rotation-due records, want 1", len(recs))
			}
			if recs[0]["outcome"] != "rotation-due" || recs[0]["attributes"].(map[string]string)["secret"] != "anthropic-api-key" {
				t.Errorf("record = %v", recs[0])
			}
			series := w.emu.Monitoring.TimeSeries(w.env.Config.Cloud.GCP.Project, RotationDueMetric)
			if len(series) != 1 || series[0].GetMetric().GetLabels()["secret"] != "anthropic-api-key" || series[0].GetPoints()[0].GetValue().GetInt64Value() != 1 {
				t.Errorf("rotation_due series = %v", series)
			}
		})
	}
}

func TestRotateKeysAcknowledgesWhatItDoesNotHandle(t *testing.T) {
	rotate := sampleMessage(t, "secretmanager-rotate-notification.json")
	with := func(m events.PubSubMessage, k, v string) events.PubSubMessage {
		attrs := map[string]string{}
		for a, b := range m.Attributes {
			attrs[a] = b
		}
		attrs[k] = v
		m.Attributes = attrs
		return m
	}
	wrongType := rotationEvent(t, rotate)
	wrongType.SetType("google.cloud.storage.object.v1.finalized")
	tests := []struct {
		name string
		ev   event.Event
	}{
		{"TOPIC_CONFIGURED test message", rotationEvent(t, with(rotate, "eventType", "TOPIC_CONFIGURED"))},
		{"SECRET_VERSION_ADD", rotationEvent(t, with(rotate, "eventType", "SECRET_VERSION_ADD"))},
		{"SECRET_ROTATE of an unmanaged secret", rotationEvent(t, with(rotate, "secretId", "projects/1/secrets/someone-elses"))},
		{"SECRET_ROTATE without secretId", rotationEvent(t, with(rotate, "secretId", ""))},
		{"another Scheduler job", rotationEvent(t, events.PubSubMessage{MessageID: "1", Attributes: map[string]string{"coopguard-job": "posture-check"}})},
		{"Scheduler body not JSON", rotationEvent(t, events.PubSubMessage{MessageID: "1", Attributes: map[string]string{"coopguard-job": "rotate-keys"}, Data: []byte("rotate!")})},
		{"dryRun not a bool", rotationEvent(t, events.PubSubMessage{MessageID: "1", Attributes: map[string]string{"coopguard-job": "rotate-keys"}, Data: []byte(`{"dryRun":"no"}`)})},
		{"no attributes", rotationEvent(t, events.PubSubMessage{MessageID: "1", Data: []byte(`{}`)})},
		{"not a Pub/Sub event", wrongType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay})
			if err := w.env.RotateKeys(context.Background(), tc.ev); err != nil {
				t.Fatalf("RotateKeys = %v, want nil (acknowledged)", err)
			}
			if n := w.emu.Faults.TotalCalls(); n != 0 {
				t.Errorf("%d GCP calls, want none", n)
			}
			if got := w.states(); strings.Join(got, ",") != "ENABLED,ENABLED" {
				t.Errorf("states = %v", got)
			}
		})
	}
}

func TestRotateKeysDryRun(t *testing.T) {
	w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay})
	msg := events.PubSubMessage{MessageID: "1", Attributes: map[string]string{"coopguard-job": RotateKeysJob}, Data: []byte(`{"reason":"cli","dryRun":true}`)}
	if err := w.env.RotateKeys(context.Background(), rotationEvent(t, msg)); err != nil {
		t.Fatal(err)
	}
	if n := w.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("dry run made %d mutations", n)
	}
	if len(w.rotationRecords()) != 0 {
		t.Error("dry run published a record")
	}
	if !strings.Contains(w.logs.String(), `"message":"rotation due"`) {
		t.Error("dry run did not log the due secret")
	}
}

func TestRotateKeysRepeatedRunChangesNothing(t *testing.T) {
	w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay})
	ev := rotationEvent(t, sampleMessage(t, "scheduler-rotation-message.json"))
	if err := w.env.RotateKeys(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	before := w.emu.Faults.Mutations("google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion")
	// Same instant: Monitoring refuses the second point, which must not
	// fail the run (the metric is best effort).
	if err := w.env.RotateKeys(context.Background(), ev); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if after := w.emu.Faults.Mutations("google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion"); after != before {
		t.Errorf("second run disabled %d more versions", after-before)
	}
	if got := w.states(); strings.Join(got, ",") != "DISABLED,ENABLED" {
		t.Errorf("states = %v", got)
	}
}

// mintServer is a local minting service (http://127.0.0.1 is allowed by
// config) answering with status code.
func mintServer(t *testing.T, code *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer Xcred-VALUE-77" {
			http.Error(w, "bad credential", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(int(code.Load()))
		fmt.Fprint(w, `{"key":"sk-ant-MINTED"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRotateKeysWithKeySource(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusServiceUnavailable)
	srv := mintServer(t, &code)
	w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay}, func(c *config.Config) {
		c.Coopguard.Rotation.KeySourceURL = srv.URL + "/mint"
		c.Coopguard.Rotation.KeySourceCredentialSecret = "mint-credential"
	})
	w.emu.SecretManager.SeedVersions(w.env.Config.Cloud.GCP.Project, "mint-credential", []byte("Xcred-VALUE-77"))
	ev := rotationEvent(t, sampleMessage(t, "secretmanager-rotate-notification.json"))

	err := w.env.RotateKeys(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "anthropic-api-key") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("RotateKeys = %v, want an error naming the secret and the source's answer (Pub/Sub redelivers)", err)
	}
	if strings.Contains(err.Error(), "Xcred-VALUE") || strings.Contains(w.logs.String(), "Xcred-VALUE") {
		t.Error("the credential leaked into the error or the log")
	}
	if got := w.states(); strings.Join(got, ",") != "ENABLED,ENABLED" {
		t.Errorf("states = %v, want nothing disabled while the new key is missing", got)
	}

	code.Store(http.StatusOK)
	if err := w.env.RotateKeys(context.Background(), ev); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if got := w.states(); strings.Join(got, ",") != "DISABLED,ENABLED,ENABLED" {
		t.Errorf("states = %v, want 1 disabled and the new version 3", got)
	}
	if strings.Contains(w.logs.String(), "MINTED") {
		t.Error("the key reached the log")
	}
	recs := w.rotationRecords()
	if len(recs) == 0 || !strings.Contains(fmt.Sprint(recs[len(recs)-1]["actions"]), "added version 3") {
		t.Errorf("records = %v, want the last to say version 3 was added", recs)
	}
}

func TestRotateKeysPublishFailureIsRetried(t *testing.T) {
	w := newRotWorld(t, []time.Duration{91 * rotDay}, func(c *config.Config) {
		c.Coopguard.Topics.Incidents = "no-such-topic"
	})
	topic := "projects/" + w.env.Config.Cloud.GCP.Project + "/topics/no-such-topic"
	if err := w.env.Clients.PubSub.TopicAdminClient.DeleteTopic(context.Background(), &pubsubpb.DeleteTopicRequest{Topic: topic}); err != nil {
		t.Fatal(err)
	}
	err := w.env.RotateKeys(context.Background(), rotationEvent(t, sampleMessage(t, "scheduler-rotation-message.json")))
	if err == nil || !strings.Contains(err.Error(), "no-such-topic") || !strings.Contains(err.Error(), "coopguard provision") {
		t.Fatalf("RotateKeys = %v, want the publish failure with its fix\n%s", err, w.logs.String())
	}
}

func TestStatusShowsVersionAgesAndRotation(t *testing.T) {
	w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay})
	rep, err := CollectStatus(context.Background(), w.env)
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Secrets[0]
	if !s.RotationDue || !strings.Contains(s.RotationDueReason, "91d") {
		t.Errorf("secret = %+v, want due", s)
	}
	if len(s.Versions) != 2 || s.Versions[0].AgeSeconds != int64(91*rotDay/time.Second) || !s.Versions[0].CreateTime.Equal(rotT0.Add(-91*rotDay)) {
		t.Errorf("versions = %+v, want newest first with ages", s.Versions)
	}
	if want := rotT0.Add(-91 * rotDay).Add(90 * rotDay); !s.NextRotation.Equal(want) {
		t.Errorf("nextRotation = %v, want %v", s.NextRotation, want)
	}
	if n := w.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("Status made %d mutations", n)
	}

	fresh := newRotWorld(t, []time.Duration{10 * rotDay})
	rep, err = CollectStatus(context.Background(), fresh.env)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rep.Secrets[0])
	if rep.Secrets[0].RotationDue || !strings.Contains(string(raw), `"rotationDue":false`) || !strings.Contains(string(raw), `"ageSeconds":864000`) {
		t.Errorf("fresh secret = %s", raw)
	}
}

// TestRotateKeysHandlesSecretManagerNotifications feeds RotateKeys the
// notifications the emulated Secret Manager really publishes on the
// rotation topic (not samples): SECRET_ROTATE, fired when the schedule
// comes due on the clock, runs the policy for that secret; every other
// event type (create, update, version add/disable, including those the
// run itself causes) is acknowledged without a GCP call.
func TestRotateKeysHandlesSecretManagerNotifications(t *testing.T) {
	w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay})
	ctx := context.Background()
	project := w.env.Config.Cloud.GCP.Project
	topic := "projects/" + project + "/topics/" + w.env.Config.Coopguard.Topics.Rotation
	if _, err := w.env.Clients.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.Clients.Secrets.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret: &secretmanagerpb.Secret{Name: "projects/" + project + "/secrets/anthropic-api-key", Topics: []*secretmanagerpb.Topic{{Name: topic}},
			Rotation: &secretmanagerpb.Rotation{NextRotationTime: timestamppb.New(rotT0.Add(time.Hour)), RotationPeriod: durationpb.New(90 * rotDay)}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"topics", "rotation"}},
	}); err != nil {
		t.Fatal(err)
	}
	w.emu.Clock.Advance(time.Hour)
	if fired := w.emu.SecretManager.FireDueRotations(ctx); len(fired) != 1 {
		t.Fatalf("fired %v, want the managed secret", fired)
	}
	seen := map[string]int{}
	handled := 0
	// Handle what is on the topic, then what that handling published, so
	// the run's own version events come round too.
	for round := 0; round < 3; round++ {
		var msgs []*pstest.Message
		for _, m := range w.emu.PubSub.Messages() {
			if m.Attributes["eventType"] != "" {
				msgs = append(msgs, m)
			}
		}
		for _, m := range msgs[handled:] {
			ev := m.Attributes["eventType"]
			seen[ev]++
			before := w.emu.Faults.TotalCalls()
			msg := events.PubSubMessage{MessageID: m.ID, Attributes: m.Attributes, Data: m.Data, PublishTime: m.PublishTime}
			if err := w.env.RotateKeys(ctx, rotationEvent(t, msg)); err != nil {
				t.Fatalf("RotateKeys(%s) = %v", ev, err)
			}
			if calls := w.emu.Faults.TotalCalls() - before; ev != SecretRotateEvent && calls != 0 {
				t.Errorf("%s made %d GCP calls, want none (acknowledged and ignored)", ev, calls)
			}
		}
		handled = len(msgs)
	}
	if seen[SecretRotateEvent] != 1 || seen["SECRET_UPDATE"] != 1 || seen["SECRET_VERSION_DISABLE"] != 1 {
		t.Errorf("events seen = %v, want one SECRET_UPDATE, one SECRET_ROTATE and the run's SECRET_VERSION_DISABLE", seen)
	}
	if got := w.states(); strings.Join(got, ",") != "DISABLED,ENABLED" {
		t.Errorf("states = %v, want the superseded version disabled by the SECRET_ROTATE run", got)
	}
	if recs := w.rotationRecords(); len(recs) != 1 {
		t.Errorf("%d rotation-due records, want 1 (only SECRET_ROTATE runs the policy)", len(recs))
	}
}
