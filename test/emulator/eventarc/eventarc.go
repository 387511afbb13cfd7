// Package eventarc delivers Pub/Sub messages to functions the way Eventarc
// does in production, for the embedded emulated GCP: one subscription per
// trigger, each message POSTed to its function as a binary-mode CloudEvent
// of type google.cloud.pubsub.topic.v1.messagePublished, acknowledged on a
// 2xx answer, redelivered with backoff on anything else, and moved to the
// dead-letter topic after a bounded number of attempts (deploy's
// MAX_DELIVERY_ATTEMPTS). `coopguard serve` runs it so that a drill takes
// the same path as a deployed responder; tests count what it did.
package eventarc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudcoop/coopguard/shared/config"
)

// Names deploy uses (config's, through deploy/jobs.sh); the bridge creates
// the same.
const (
	// DeadLetterTopic receives what could not be delivered.
	DeadLetterTopic = config.DeadLetterTopic
	// DeadLetterSubscription holds the dead-letter topic's messages for
	// inspection.
	DeadLetterSubscription = config.DeadLetterSubscription
	// DefaultMaxAttempts is deploy's MAX_DELIVERY_ATTEMPTS.
	DefaultMaxAttempts = config.MaxDeliveryAttempts
	// MessagePublished is the CloudEvent type of a Pub/Sub message.
	MessagePublished = "google.cloud.pubsub.topic.v1.messagePublished"
)

// Attributes Pub/Sub adds to a dead-lettered message, so whoever pulls it
// can tell where it came from and how often it failed.
const (
	AttrDeadLetterDeliveryCount = "CloudPubSubDeadLetterSourceDeliveryCount"
	AttrDeadLetterSubscription  = "CloudPubSubDeadLetterSourceSubscription"
	AttrDeadLetterProject       = "CloudPubSubDeadLetterSourceSubscriptionProject"
	AttrDeadLetterPublishTime   = "CloudPubSubDeadLetterSourceTopicPublishTime"
)

// Options tune a Bridge; the zero value means the defaults.
type Options struct {
	// MaxAttempts is how many deliveries a message gets before it goes to
	// the dead-letter topic (default 10, like deploy; at least 1).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the exponential pause before a
	// failed message is redelivered (defaults 1 s and 1 min). Deploy uses
	// 10 s to 600 s; locally that would hide a dead-letter for an hour.
	MinBackoff, MaxBackoff time.Duration
	// Concurrency bounds the messages in flight per subscription,
	// including those waiting for their redelivery (default 8).
	Concurrency int
	// Timeout bounds one delivery, like a function's timeout (default 5 min).
	Timeout time.Duration
	// HTTPClient posts the events (default: a client without a timeout of
	// its own; Timeout bounds each request).
	HTTPClient *http.Client
	// Logger receives one line per failed delivery and dead-letter
	// (default: discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxAttempts < 1 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	if o.Concurrency < 1 {
		o.Concurrency = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stats counts what a bridge did since it started.
type Stats struct {
	// Deliveries is every POST attempted, Acks the messages acknowledged
	// after a 2xx, Nacks the failed deliveries sent back for redelivery,
	// DeadLetters the messages moved to the dead-letter topic.
	Deliveries, Acks, Nacks, DeadLetters int64
}

// Bridge is Eventarc for the emulated Pub/Sub. Create it with New, then
// Start it; Stop ends it.
type Bridge struct {
	client  *pubsub.Client
	baseURL string
	routes  map[string]string
	opts    Options

	deliveries, acks, nacks, deadLetters atomic.Int64

	mu       sync.Mutex
	attempts map[string]int // subscription/message id → deliveries so far
	dead     *pubsub.Publisher
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errs     []error
}

// New returns a bridge that delivers each topic's messages (routes: topic
// id → function path such as "/HandleAlert") to the functions server at
// baseURL, over client (the official Pub/Sub client, e.g. pointed at
// pstest). It does nothing until Start.
func New(client *pubsub.Client, baseURL string, routes map[string]string, opts Options) (*Bridge, error) {
	if client == nil {
		return nil, errors.New("eventarc: no Pub/Sub client: dial one against the emulated Pub/Sub first")
	}
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("eventarc: functions server URL %q: want http://host:port", baseURL)
	}
	if len(routes) == 0 {
		return nil, errors.New("eventarc: no routes: give at least one topic → function path")
	}
	rs := make(map[string]string, len(routes))
	for topic, path := range routes {
		if !validID.MatchString(topic) {
			return nil, fmt.Errorf("eventarc: topic id %q is not a valid Pub/Sub id", topic)
		}
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("eventarc: route %s → %q: a function path starts with /", topic, path)
		}
		rs[topic] = path
	}
	return &Bridge{
		client:   client,
		baseURL:  strings.TrimRight(baseURL, "/"),
		routes:   rs,
		opts:     opts.withDefaults(),
		attempts: map[string]int{},
	}, nil
}

// validID is Pub/Sub's rule for topic and subscription ids.
var validID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$`)

// SubscriptionID is the subscription the bridge uses for a route, named
// like Eventarc's trigger subscriptions ("eventarc-REGION-…-sub-…").
func SubscriptionID(topic, path string) string {
	fn := strings.ToLower(strings.Trim(nonID.ReplaceAllString(path, "-"), "-"))
	return "eventarc-local-" + topic + "-" + fn + "-sub"
}

var nonID = regexp.MustCompile(`[^A-Za-z0-9]+`)

// EnsureTopics creates the topics that do not exist yet, labelled like the
// ones Provision and deploy create. It is idempotent: a topic that exists
// (made by Provision, deploy or a concurrent caller) is left alone.
func EnsureTopics(ctx context.Context, client *pubsub.Client, ids ...string) error {
	var errs []error
	for _, id := range ids {
		_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{
			Name:   topicPath(client.Project(), id),
			Labels: map[string]string{"coopguard": "true"},
		})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			errs = append(errs, fmt.Errorf("create topic %s: %w (is the emulated Pub/Sub running?)", id, err))
		}
	}
	return errors.Join(errs...)
}

func topicPath(project, id string) string { return "projects/" + project + "/topics/" + id }
func subPath(project, id string) string   { return "projects/" + project + "/subscriptions/" + id }

// Start creates the routed topics, the dead-letter topic with its
// subscription, and one subscription per route (existing ones are reused),
// then receives until ctx ends or Stop is called. It returns once every
// subscription exists, so a message published after Start is delivered.
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	started := b.cancel != nil
	b.mu.Unlock()
	if started {
		return errors.New("eventarc: bridge already started")
	}
	project := b.client.Project()
	topics := []string{DeadLetterTopic}
	for t := range b.routes {
		topics = append(topics, t)
	}
	if err := EnsureTopics(ctx, b.client, topics...); err != nil {
		return fmt.Errorf("eventarc: %w", err)
	}
	// Seven days' retention, like deploy's dead-letter subscription.
	if err := ensureSubscription(ctx, b.client, &pubsubpb.Subscription{
		Name:                     subPath(project, DeadLetterSubscription),
		Topic:                    topicPath(project, DeadLetterTopic),
		MessageRetentionDuration: durationpb.New(7 * 24 * time.Hour),
		Labels:                   map[string]string{"coopguard": "true"},
	}); err != nil {
		return fmt.Errorf("eventarc: %w", err)
	}
	subs := map[string]string{}
	for topic, path := range b.routes {
		id := SubscriptionID(topic, path)
		// An ack deadline of 600 s, like Eventarc's subscriptions, so
		// a slow function is not redelivered while it still runs.
		if err := ensureSubscription(ctx, b.client, &pubsubpb.Subscription{
			Name:               subPath(project, id),
			Topic:              topicPath(project, topic),
			AckDeadlineSeconds: 600,
			Labels:             map[string]string{"coopguard": "true"},
		}); err != nil {
			return fmt.Errorf("eventarc: %w", err)
		}
		subs[topic] = id
	}

	rctx, cancel := context.WithCancel(ctx)
	b.mu.Lock()
	b.cancel = cancel
	b.dead = b.client.Publisher(DeadLetterTopic)
	b.mu.Unlock()
	for topic, id := range subs {
		sub := b.client.Subscriber(id)
		sub.ReceiveSettings.MaxOutstandingMessages = b.opts.Concurrency
		// The bridge bounds its own wait before a redelivery; the client
		// must keep the lease for as long as that and the delivery take.
		sub.ReceiveSettings.MaxExtension = b.opts.Timeout + b.opts.MaxBackoff
		r := route{topic: topic, path: b.routes[topic], sub: subPath(project, id)}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			err := sub.Receive(rctx, func(ctx context.Context, m *pubsub.Message) { b.handle(ctx, r, m) })
			if err != nil && rctx.Err() == nil {
				b.opts.Logger.Error("eventarc: receiving stopped", "subscription", r.sub, "error", err)
				b.mu.Lock()
				b.errs = append(b.errs, fmt.Errorf("receive %s: %w", r.sub, err))
				b.mu.Unlock()
			}
		}()
	}
	return nil
}

// ensureSubscription creates s unless it exists.
func ensureSubscription(ctx context.Context, client *pubsub.Client, s *pubsubpb.Subscription) error {
	_, err := client.SubscriptionAdminClient.CreateSubscription(ctx, s)
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create subscription %s: %w (does topic %s exist?)", s.Name, err, s.Topic)
	}
	return nil
}

// Stop ends receiving and waits, bounded by ctx, for the deliveries in
// flight; it returns any error that ended a subscription's receiving early.
func (b *Bridge) Stop(ctx context.Context) error {
	b.mu.Lock()
	cancel := b.cancel
	b.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("eventarc: stop: deliveries still in flight: %w", ctx.Err())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cancel = nil // stopped: Start may deliver again
	if b.dead != nil {
		b.dead.Stop()
		b.dead = nil
	}
	return errors.Join(b.errs...)
}

// Stats returns the counts so far.
func (b *Bridge) Stats() Stats {
	return Stats{Deliveries: b.deliveries.Load(), Acks: b.acks.Load(), Nacks: b.nacks.Load(), DeadLetters: b.deadLetters.Load()}
}

// route is one trigger: a topic's subscription and its function.
type route struct{ topic, path, sub string }

// handle delivers one message and settles it.
func (b *Bridge) handle(ctx context.Context, r route, m *pubsub.Message) {
	key := r.sub + "/" + m.ID
	b.mu.Lock()
	b.attempts[key]++
	attempt := b.attempts[key]
	b.mu.Unlock()

	b.deliveries.Add(1)
	code, err := b.post(ctx, r, m)
	log := b.opts.Logger.With("topic", r.topic, "function", r.path, "messageId", m.ID, "attempt", attempt)
	if err == nil && code/100 == 2 {
		b.forget(key)
		b.acks.Add(1)
		m.Ack()
		return
	}
	if ctx.Err() != nil {
		// Shutting down: hand the message back untouched by our count,
		// so the next receiver gets all its attempts.
		b.mu.Lock()
		b.attempts[key]--
		b.mu.Unlock()
		m.Nack()
		return
	}
	reason := "HTTP " + strconv.Itoa(code)
	if err != nil {
		reason = err.Error()
	}
	if attempt >= b.opts.MaxAttempts {
		if derr := b.deadLetter(ctx, r, m, attempt); derr != nil {
			log.Error("eventarc: dead-lettering failed; will redeliver", "error", derr)
			b.nacks.Add(1)
			m.Nack()
			return
		}
		log.Warn("eventarc: message dead-lettered after its last attempt", "reason", reason, "deadLetterTopic", DeadLetterTopic)
		b.forget(key)
		b.deadLetters.Add(1)
		m.Ack()
		return
	}
	pause := backoff(b.opts.MinBackoff, b.opts.MaxBackoff, attempt)
	log.Warn("eventarc: delivery failed; redelivering", "reason", reason, "after", pause)
	// Pub/Sub's retry policy delays the redelivery; the client has no
	// per-message delay, so hold the message (its lease is extended)
	// and nack it when the pause is over.
	t := time.NewTimer(pause)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	b.nacks.Add(1)
	m.Nack()
}

func (b *Bridge) forget(key string) {
	b.mu.Lock()
	delete(b.attempts, key)
	b.mu.Unlock()
}

// backoff is the pause after the attempt-th failed delivery: MinBackoff
// doubling up to MaxBackoff, like a subscription's retry policy.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// pushEnvelope is the data of Eventarc's messagePublished CloudEvent. Like
// Eventarc, it spells message id and publish time both ways.
type pushEnvelope struct {
	Message      pushMessage `json:"message"`
	Subscription string      `json:"subscription"`
}

type pushMessage struct {
	Attributes   map[string]string `json:"attributes,omitempty"`
	Data         string            `json:"data,omitempty"`
	MessageID    string            `json:"messageId"`
	MessageIDAlt string            `json:"message_id"`
	OrderingKey  string            `json:"orderingKey,omitempty"`
	PublishTime  string            `json:"publishTime"`
	PublishAlt   string            `json:"publish_time"`
}

// post sends m to the route's function as a binary-mode CloudEvent and
// returns the HTTP status.
func (b *Bridge) post(ctx context.Context, r route, m *pubsub.Message) (int, error) {
	published := m.PublishTime.UTC().Format(time.RFC3339Nano)
	env := pushEnvelope{
		Message: pushMessage{
			Attributes:   m.Attributes,
			MessageID:    m.ID,
			MessageIDAlt: m.ID,
			OrderingKey:  m.OrderingKey,
			PublishTime:  published,
			PublishAlt:   published,
		},
		Subscription: r.sub,
	}
	if len(m.Data) > 0 {
		env.Message.Data = base64.StdEncoding.EncodeToString(m.Data)
	}
	body, err := json.Marshal(env)
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.baseURL+r.path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Ce-Id", m.ID)
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Type", MessagePublished)
	h.Set("Ce-Source", "//pubsub.googleapis.com/"+topicPath(b.client.Project(), r.topic))
	h.Set("Ce-Time", published)
	resp, err := b.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to %s: %w", r.path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// deadLetter publishes m to the dead-letter topic with the attributes
// Pub/Sub adds when it dead-letters.
func (b *Bridge) deadLetter(ctx context.Context, r route, m *pubsub.Message, attempts int) error {
	attrs := make(map[string]string, len(m.Attributes)+4)
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs[AttrDeadLetterDeliveryCount] = strconv.Itoa(attempts)
	attrs[AttrDeadLetterSubscription] = r.sub[strings.LastIndex(r.sub, "/")+1:]
	attrs[AttrDeadLetterProject] = b.client.Project()
	attrs[AttrDeadLetterPublishTime] = m.PublishTime.UTC().Format(time.RFC3339Nano)
	b.mu.Lock()
	dead := b.dead
	b.mu.Unlock()
	if _, err := dead.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: attrs}).Get(ctx); err != nil {
		return fmt.Errorf("publish to %s: %w", DeadLetterTopic, err)
	}
	return nil
}
