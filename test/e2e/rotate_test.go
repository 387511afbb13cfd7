package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

var rotateT0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

const rotateDay = 24 * time.Hour

// rotationWorld is newWorld with the emulated clock (by which the
// functions judge ages) frozen at rotateT0, the incidents topic created, and
// anthropic-api-key holding one version per age (oldest first).
func rotationWorld(t *testing.T, ages []time.Duration, mutate ...func(*config.Config)) *world {
	t.Helper()
	w := newWorld(t, mutate...)
	w.emu.Clock.Set(rotateT0)
	ctx := context.Background()
	p := w.cfg.Cloud.GCP.Project
	if _, err := w.clients.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + p + "/topics/" + w.cfg.Coopguard.Topics.Incidents}); err != nil {
		t.Fatal(err)
	}
	secret := "projects/" + p + "/secrets/anthropic-api-key"
	for range len(ages) - 1 { // newWorld seeded the first
		if _, err := w.emu.SecretManager.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-more")}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range ages {
		w.emu.SecretManager.SetVersionCreateTime(fmt.Sprintf("%s/versions/%d", secret, i+1), rotateT0.Add(-a))
	}
	return w
}

func (w *world) keyStates() string {
	var out []string
	for _, v := range w.emu.SecretManager.Versions("projects/" + w.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key") {
		out = append(out, v.GetState().String())
	}
	return strings.Join(out, ",")
}

// secretMutations counts the Secret Manager calls that change state.
func (w *world) secretMutations() int {
	n := 0
	for m, c := range w.emu.Faults.MutationSnapshot() {
		if strings.HasPrefix(m, "google.cloud.secretmanager.") {
			n += c
		}
	}
	return n
}

// postPubSub delivers msg to the functions server as Eventarc does: a
// messagePublished CloudEvent in binary mode (ce-* headers) or, with
// structured, as application/cloudevents+json.
func (w *world) postPubSub(t *testing.T, path string, msg events.PubSubMessage, structured bool) (int, string) {
	t.Helper()
	data, err := events.EncodePubSub(msg)
	if err != nil {
		t.Fatal(err)
	}
	var req *http.Request
	if structured {
		body, _ := json.Marshal(map[string]any{
			"specversion": "1.0", "id": msg.MessageID, "type": events.PubSubMessagePublished,
			"source":          "//pubsub.googleapis.com/projects/coopguard-local/topics/coopguard-rotation",
			"datacontenttype": "application/json", "data": json.RawMessage(data),
		})
		req, err = http.NewRequest(http.MethodPost, w.url+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/cloudevents+json")
	} else {
		req, err = http.NewRequest(http.MethodPost, w.url+path, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("ce-id", msg.MessageID)
		req.Header.Set("ce-specversion", "1.0")
		req.Header.Set("ce-type", events.PubSubMessagePublished)
		req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/coopguard-local/topics/coopguard-rotation")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	schedulerMsg = events.PubSubMessage{
		MessageID:  "sched-1",
		Attributes: map[string]string{events.AttrSchedulerJob: functions.RotateKeysJob},
		Data:       []byte(`{"reason":"scheduled"}`),
	}
	// Secret Manager names the secret by its project's number: the
	// emulated demo project's.
	demoNumber      = strconv.FormatInt(resourcemanager.ProjectNumber(config.Demo().Cloud.GCP.Project), 10)
	secretRotateMsg = events.PubSubMessage{
		MessageID: "rotate-1",
		Attributes: map[string]string{
			"eventType": "SECRET_ROTATE", "secretId": "projects/" + demoNumber + "/secrets/anthropic-api-key",
			"dataFormat": "JSON_API_V1", "timestamp": "2026-11-22T06:00:00.123456Z",
		},
		Data: []byte(`{"name":"projects/` + demoNumber + `/secrets/anthropic-api-key","rotation":{"rotationPeriod":"7776000s"}}`),
	}
)

func (w *world) statusSecret(t *testing.T) functions.SecretStatus {
	t.Helper()
	code, body := w.do(t, http.MethodGet, "/Status", "", nil)
	if code != http.StatusOK {
		t.Fatalf("Status = %d %s", code, body)
	}
	var rep functions.StatusReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	return rep.Secrets[0]
}

func TestRotateKeysThroughTheServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		msg        events.PubSubMessage
		structured bool
	}{
		{"Scheduler job, binary mode", schedulerMsg, false},
		{"Scheduler job, structured mode", schedulerMsg, true},
		{"SECRET_ROTATE notification", secretRotateMsg, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := rotationWorld(t, []time.Duration{120 * rotateDay, 91 * rotateDay})
			before := w.statusSecret(t)
			if !before.RotationDue || len(before.Versions) != 2 || before.Versions[0].AgeSeconds != int64(91*rotateDay/time.Second) {
				t.Fatalf("Status before = %+v, want due with ages", before)
			}
			if code, body := w.postPubSub(t, "/RotateKeys", tc.msg, tc.structured); code != http.StatusOK {
				t.Fatalf("RotateKeys = %d %s", code, body)
			}
			if got := w.keyStates(); got != "DISABLED,ENABLED" {
				t.Errorf("states = %s", got)
			}
			after := w.statusSecret(t)
			if after.Versions[1].State != "DISABLED" || !after.RotationDue {
				t.Errorf("Status after = %+v", after)
			}
			if strings.Contains(w.logs.String(), "SECRET-PAYLOAD") {
				t.Error("a payload reached the log")
			}
			// Redelivery (Pub/Sub is at least once) changes nothing.
			m := w.secretMutations()
			if code, body := w.postPubSub(t, "/RotateKeys", tc.msg, tc.structured); code != http.StatusOK {
				t.Fatalf("redelivery = %d %s", code, body)
			}
			if n := w.secretMutations() - m; n != 0 {
				t.Errorf("redelivery made %d Secret Manager mutations", n)
			}
		})
	}
}

func TestRotateKeysAcknowledgesTestMessages(t *testing.T) {
	t.Parallel()
	w := rotationWorld(t, []time.Duration{120 * rotateDay, 91 * rotateDay})
	msg := secretRotateMsg
	msg.Attributes = map[string]string{"eventType": "TOPIC_CONFIGURED", "secretId": "projects/123456789012/secrets/anthropic-api-key"}
	if code, body := w.postPubSub(t, "/RotateKeys", msg, false); code != http.StatusOK {
		t.Fatalf("RotateKeys = %d %s, want 200 (acknowledged)", code, body)
	}
	if got := w.keyStates(); got != "ENABLED,ENABLED" || w.secretMutations() != 0 {
		t.Errorf("states = %s after %d mutations", got, w.secretMutations())
	}
}

func TestRotateKeysKeySourceFailureIsRedelivered(t *testing.T) {
	t.Parallel()
	var code atomic.Int32
	code.Store(http.StatusBadGateway)
	mint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer e2e-CRED-value" {
			http.Error(w, "bad credential", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(int(code.Load()))
		fmt.Fprint(w, `{"key":"sk-ant-e2e-MINTED"}`)
	}))
	t.Cleanup(mint.Close)
	w := rotationWorld(t, []time.Duration{120 * rotateDay, 91 * rotateDay}, func(c *config.Config) {
		c.Coopguard.Rotation.KeySourceURL = mint.URL + "/mint"
		c.Coopguard.Rotation.KeySourceCredentialSecret = "mint-credential"
	})
	w.emu.SecretManager.SeedVersions(w.cfg.Cloud.GCP.Project, "mint-credential", []byte("e2e-CRED-value"))

	status, body := w.postPubSub(t, "/RotateKeys", schedulerMsg, false)
	if status != http.StatusInternalServerError {
		t.Fatalf("RotateKeys = %d %s, want 500 so Pub/Sub redelivers", status, body)
	}
	if got := w.keyStates(); got != "ENABLED,ENABLED" {
		t.Errorf("states = %s, want nothing disabled", got)
	}
	for _, leak := range []string{"e2e-CRED", "MINTED"} {
		if strings.Contains(body, leak) || strings.Contains(w.logs.String(), leak) {
			t.Errorf("%q leaked into the response or the log", leak)
		}
	}

	code.Store(http.StatusOK)
	if status, body := w.postPubSub(t, "/RotateKeys", schedulerMsg, false); status != http.StatusOK {
		t.Fatalf("redelivery = %d %s", status, body)
	}
	if got := w.keyStates(); got != "DISABLED,ENABLED,ENABLED" {
		t.Errorf("states = %s", got)
	}
	if s := w.statusSecret(t); s.RotationDue {
		t.Errorf("Status = %+v, want not due after the new key", s)
	}
}
