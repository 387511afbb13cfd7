package eventarc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/pstest"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/test/emulator/eventarc"
)

const project = "coopguard-local"

// delivery is one request the function received.
type delivery struct {
	header http.Header
	body   []byte
}

// function is an httptest functions server whose answers a test scripts:
// answer(n) is the status for the n-th request (1-based).
type function struct {
	mu     sync.Mutex
	got    []delivery
	answer func(n int) int
	url    string
}

func newFunction(t *testing.T, answer func(n int) int) *function {
	t.Helper()
	f := &function{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, delivery{header: r.Header.Clone(), body: b})
		n := len(f.got)
		f.mu.Unlock()
		w.WriteHeader(f.answer(n))
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *function) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery(nil), f.got...)
}

// pubsubWorld is pstest and an official client dialled to it over gRPC.
type pubsubWorld struct {
	srv    *pstest.Server
	client *pubsub.Client
}

func newPubSub(t *testing.T) *pubsubWorld {
	t.Helper()
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	t.Cleanup(func() { srv.Close() })
	client, err := pubsub.NewClient(context.Background(), project,
		option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &pubsubWorld{srv: srv, client: client}
}

// start runs a bridge for topic → /Fn with fast backoff.
func (w *pubsubWorld) start(t *testing.T, fnURL, topic string, attempts int) *eventarc.Bridge {
	t.Helper()
	b, err := eventarc.New(w.client, fnURL, map[string]string{topic: "/Fn"},
		eventarc.Options{MaxAttempts: attempts, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := b.Stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		cancel()
	})
	return b
}

func (w *pubsubWorld) publish(t *testing.T, topic string, data []byte, attrs map[string]string) string {
	t.Helper()
	p := w.client.Publisher(topic)
	defer p.Stop()
	id, err := p.Publish(context.Background(), &pubsub.Message{Data: data, Attributes: attrs}).Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func TestAckOnSuccessOnce(t *testing.T) {
	w := newPubSub(t)
	fn := newFunction(t, func(int) int { return http.StatusNoContent })
	b := w.start(t, fn.url, "coopguard-alerts", 10)
	id := w.publish(t, "coopguard-alerts", []byte(`{"incident":{}}`), nil)
	eventually(t, "the ack to reach Pub/Sub", func() bool {
		m := w.srv.Message(id)
		return m != nil && m.Acks == 1
	})
	if got := w.srv.Message(id).Deliveries; got != 1 {
		t.Errorf("Pub/Sub delivered %d times, want 1", got)
	}
	if s := b.Stats(); s != (eventarc.Stats{Deliveries: 1, Acks: 1}) {
		t.Errorf("stats = %+v, want one delivery, one ack", s)
	}
	if n := len(fn.deliveries()); n != 1 {
		t.Errorf("function called %d times, want 1", n)
	}
}

func TestFailureIsRedeliveredThenAcked(t *testing.T) {
	w := newPubSub(t)
	fn := newFunction(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	b := w.start(t, fn.url, "coopguard-logs", 10)
	id := w.publish(t, "coopguard-logs", []byte("entry"), nil)
	eventually(t, "the third delivery's ack", func() bool { return b.Stats().Acks == 1 })
	if s := b.Stats(); s != (eventarc.Stats{Deliveries: 3, Acks: 1, Nacks: 2}) {
		t.Errorf("stats = %+v, want 3 deliveries, 2 nacks, 1 ack", s)
	}
	for i, d := range fn.deliveries() {
		if got := d.header.Get("Ce-Id"); got != id {
			t.Errorf("delivery %d: ce-id %q, want the message id %q on every redelivery", i+1, got, id)
		}
	}
}

func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	w := newPubSub(t)
	fn := newFunction(t, func(int) int { return http.StatusInternalServerError })
	b := w.start(t, fn.url, "coopguard-rotation", 3)
	id := w.publish(t, "coopguard-rotation", []byte("poison"), map[string]string{"k": "v"})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var dead *pubsub.Message
	err := w.client.Subscriber(eventarc.DeadLetterSubscription).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		dead = m
		cancel()
	})
	if err != nil || dead == nil {
		t.Fatalf("nothing on %s: %v", eventarc.DeadLetterSubscription, err)
	}
	if string(dead.Data) != "poison" || dead.Attributes["k"] != "v" {
		t.Errorf("dead letter = %q %v, want the original data and attributes", dead.Data, dead.Attributes)
	}
	if got := dead.Attributes[eventarc.AttrDeadLetterDeliveryCount]; got != "3" {
		t.Errorf("%s = %q, want 3", eventarc.AttrDeadLetterDeliveryCount, got)
	}
	want := eventarc.SubscriptionID("coopguard-rotation", "/Fn")
	if got := dead.Attributes[eventarc.AttrDeadLetterSubscription]; got != want {
		t.Errorf("%s = %q, want %q", eventarc.AttrDeadLetterSubscription, got, want)
	}
	eventually(t, "the original's ack", func() bool { return w.srv.Message(id).Acks == 1 })
	if s := b.Stats(); s != (eventarc.Stats{Deliveries: 3, Nacks: 2, DeadLetters: 1}) {
		t.Errorf("stats = %+v, want 3 deliveries, 2 nacks, 1 dead letter", s)
	}
	if n := len(fn.deliveries()); n != 3 {
		t.Errorf("function called %d times, want 3 (MaxAttempts)", n)
	}
}

func TestCloudEventIsEventarcs(t *testing.T) {
	w := newPubSub(t)
	fn := newFunction(t, func(int) int { return http.StatusOK })
	b := w.start(t, fn.url, "coopguard-alerts", 10)
	id := w.publish(t, "coopguard-alerts", []byte(`{"version":"1.2"}`), map[string]string{"coopguard-drill": "true"})
	eventually(t, "the delivery", func() bool { return b.Stats().Acks == 1 })
	d := fn.deliveries()[0]

	want := map[string]string{
		"Content-Type":   "application/json",
		"Ce-Id":          id,
		"Ce-Specversion": "1.0",
		"Ce-Type":        "google.cloud.pubsub.topic.v1.messagePublished",
		"Ce-Source":      "//pubsub.googleapis.com/projects/coopguard-local/topics/coopguard-alerts",
	}
	for k, v := range want {
		if got := d.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, d.header.Get("Ce-Time")); err != nil {
		t.Errorf("ce-time %q: %v", d.header.Get("Ce-Time"), err)
	}

	// The CloudEvents SDK (what functions-framework-go uses) reads it.
	req := httptest.NewRequest(http.MethodPost, "/Fn", bytes.NewReader(d.body))
	req.Header = d.header
	ev, err := cehttp.NewEventFromHTTPRequest(req)
	if err != nil {
		t.Fatalf("not a binary-mode CloudEvent: %v", err)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("invalid CloudEvent: %v", err)
	}

	// The data is Eventarc's envelope, and coopguard's decoder reads it.
	var env struct {
		Message struct {
			Data        string            `json:"data"`
			Attributes  map[string]string `json:"attributes"`
			MessageID   string            `json:"messageId"`
			PublishTime string            `json:"publishTime"`
		} `json:"message"`
		Subscription string `json:"subscription"`
	}
	if err := json.Unmarshal(d.body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Message.MessageID != id || env.Message.PublishTime == "" {
		t.Errorf("message = %+v", env.Message)
	}
	wantSub := "projects/coopguard-local/subscriptions/" + eventarc.SubscriptionID("coopguard-alerts", "/Fn")
	if env.Subscription != wantSub {
		t.Errorf("subscription = %q, want %q", env.Subscription, wantSub)
	}
	msg, err := events.DecodePubSubEvent(*ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != `{"version":"1.2"}` || msg.Attributes["coopguard-drill"] != "true" || msg.MessageID != id {
		t.Errorf("decoded = %+v", msg)
	}
}

// TestStartIsIdempotent: topics and subscriptions made earlier (by
// Provision, or a previous serve) are reused.
func TestStartIsIdempotent(t *testing.T) {
	w := newPubSub(t)
	if err := eventarc.EnsureTopics(context.Background(), w.client, "coopguard-alerts", "coopguard-alerts"); err != nil {
		t.Fatal(err)
	}
	fn := newFunction(t, func(int) int { return http.StatusOK })
	first := w.start(t, fn.url, "coopguard-alerts", 10)
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := w.start(t, fn.url, "coopguard-alerts", 10)
	w.publish(t, "coopguard-alerts", []byte("x"), nil)
	eventually(t, "delivery through the second bridge", func() bool { return b.Stats().Acks == 1 })
}

func TestNewRejectsBadRoutes(t *testing.T) {
	w := newPubSub(t)
	for _, tc := range []struct {
		url    string
		routes map[string]string
	}{
		{"127.0.0.1:8080", map[string]string{"coopguard-alerts": "/HandleAlert"}},
		{"http://127.0.0.1:8080", nil},
		{"http://127.0.0.1:8080", map[string]string{"1bad": "/HandleAlert"}},
		{"http://127.0.0.1:8080", map[string]string{"coopguard-alerts": "HandleAlert"}},
	} {
		if _, err := eventarc.New(w.client, tc.url, tc.routes, eventarc.Options{}); err == nil {
			t.Errorf("New(%q, %v) accepted", tc.url, tc.routes)
		}
	}
}
