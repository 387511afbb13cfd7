package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// samplesDir holds the shared payload samples.
const samplesDir = "../../testdata/samples"

// sample reads a sample payload and applies replacements (old, new pairs)
// so it names this test's project, instance and service account.
func sample(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(b)))
}

// ceMode is how a CloudEvent is put on the wire.
type ceMode int

const (
	binary     ceMode = iota // ce-* headers, data as the body
	structured               // application/cloudevents+json envelope
)

var eventSeq atomic.Int64

// pubsubEnvelope wraps payload as the data of a Pub/Sub messagePublished
// CloudEvent, with a message id of msgID.
func pubsubEnvelope(payload []byte, attrs map[string]string, msgID string) []byte {
	if attrs == nil {
		attrs = map[string]string{}
	}
	env, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data":        base64.StdEncoding.EncodeToString(payload),
			"attributes":  attrs,
			"messageId":   msgID,
			"publishTime": time.Now().UTC().Format(time.RFC3339Nano),
		},
		"subscription": "projects/coopguard-local/subscriptions/eventarc-test",
	})
	return env
}

// postEvent delivers payload to function as Eventarc would and returns the
// HTTP status.
func (w *world) postEvent(t *testing.T, function string, mode ceMode, payload []byte, attrs map[string]string) int {
	t.Helper()
	id := strconv.FormatInt(eventSeq.Add(1), 10)
	return w.postEnvelope(t, function, mode, pubsubEnvelope(payload, attrs, id), id)
}

// postEnvelope sends a raw CloudEvent data body.
func (w *world) postEnvelope(t *testing.T, function string, mode ceMode, data []byte, id string) int {
	t.Helper()
	var req *http.Request
	var err error
	const typ = "google.cloud.pubsub.topic.v1.messagePublished"
	src := "//pubsub.googleapis.com/projects/coopguard-local/topics/coopguard-alerts"
	switch mode {
	case binary:
		req, err = http.NewRequest(http.MethodPost, w.url+"/"+function, bytes.NewReader(data))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("ce-id", id)
			req.Header.Set("ce-source", src)
			req.Header.Set("ce-specversion", "1.0")
			req.Header.Set("ce-type", typ)
			req.Header.Set("ce-time", time.Now().UTC().Format(time.RFC3339Nano))
		}
	case structured:
		body, _ := json.Marshal(map[string]any{
			"specversion": "1.0", "id": id, "source": src, "type": typ,
			"time": time.Now().UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
			"data": json.RawMessage(data),
		})
		req, err = http.NewRequest(http.MethodPost, w.url+"/"+function, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/cloudevents+json")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// finishFollowUps plays the Cloud Scheduler job of FinishIncidents: it
// delivers the job's message to the function over HTTP as Eventarc would,
// then moves the emulated clock one minute, until no incident's follow-up
// runs. Every delivery must be answered 2xx. It returns the passes made.
func (w *world) finishFollowUps(t *testing.T) int {
	t.Helper()
	attrs := map[string]string{"coopguard-job": functions.FinishIncidentsJob}
	for pass := 1; pass <= fixture.FollowUpTicks; pass++ {
		if code := w.postEvent(t, "FinishIncidents", binary, []byte(`{"reason":"scheduled"}`), attrs); code != http.StatusOK {
			t.Fatalf("FinishIncidents pass %d = %d, want 2xx; logs:\n%s", pass, code, w.logs)
		}
		running, err := w.env.Store.FollowUps(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(running) == 0 {
			return pass
		}
		w.emu.Clock.Advance(time.Minute)
	}
	t.Fatalf("follow-ups still running after %d Scheduler ticks", fixture.FollowUpTicks)
	return 0
}
