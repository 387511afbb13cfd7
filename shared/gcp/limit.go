package gcp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
)

// Quota is one API's budget: a token bucket for reads and one for writes,
// and a bound on calls in flight.
type Quota struct {
	ReadPerSecond, WritePerSecond float64
	Burst                         int
	MaxInFlight                   int
}

// Limits are the budgets per API. DefaultLimits sizes them to GCP's default
// per-project quotas, so a storm of incidents slows down instead of
// exhausting the quota that the next incident needs.
type Limits struct {
	Compute, SecretManager, Monitoring, Logging, PubSub, Other Quota
}

// DefaultLimits follow the default quotas: Compute 1,500 reads and writes
// per minute per region, Secret Manager 600 reads and 600 writes per
// minute (access is separate and higher), Cloud Logging 60 entries.list
// per minute (a full burst plus a minute of refill stays within it),
// Monitoring and Pub/Sub in the thousands.
var DefaultLimits = Limits{
	Compute:       Quota{ReadPerSecond: 25, WritePerSecond: 25, Burst: 50, MaxInFlight: 64},
	SecretManager: Quota{ReadPerSecond: 10, WritePerSecond: 10, Burst: 50, MaxInFlight: 32},
	Logging:       Quota{ReadPerSecond: 0.5, WritePerSecond: 200, Burst: 30, MaxInFlight: 32},
	Monitoring:    Quota{ReadPerSecond: 100, WritePerSecond: 100, Burst: 100, MaxInFlight: 32},
	PubSub:        Quota{ReadPerSecond: 200, WritePerSecond: 200, Burst: 200, MaxInFlight: 64},
	Other:         Quota{ReadPerSecond: 10, WritePerSecond: 10, Burst: 20, MaxInFlight: 16},
}

// Unlimited lifts the budgets: for the emulated GCP, which has no quotas,
// so tests that make thousands of calls (rotation at scale) do not wait
// on budgets sized for a real project.
var Unlimited = func() Limits {
	q := Quota{ReadPerSecond: 1e9, WritePerSecond: 1e9, Burst: 1 << 20, MaxInFlight: 1024}
	return Limits{Compute: q, SecretManager: q, Monitoring: q, Logging: q, PubSub: q, Other: q}
}()

// limiter enforces one API's Quota and counts how long calls waited.
type limiter struct {
	read, write *rate.Limiter
	slots       chan struct{}
	waited      atomic.Int64 // nanoseconds spent waiting for a token or slot
	calls       atomic.Int64
}

func newLimiter(q Quota) *limiter {
	return &limiter{
		read:  rate.NewLimiter(rate.Limit(q.ReadPerSecond), q.Burst),
		write: rate.NewLimiter(rate.Limit(q.WritePerSecond), q.Burst),
		slots: make(chan struct{}, max(q.MaxInFlight, 1)),
	}
}

// acquire waits for a token and a slot; release frees the slot.
func (l *limiter) acquire(ctx context.Context, write bool) (release func(), err error) {
	start := time.Now()
	b := l.read
	if write {
		b = l.write
	}
	if err := b.Wait(ctx); err != nil {
		return nil, fmt.Errorf("waiting for the API's rate budget: %w", err)
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.calls.Add(1)
	l.waited.Add(int64(time.Since(start)))
	return func() { <-l.slots }, nil
}

// Throttle is what rate limiting cost so far, per API.
type Throttle struct {
	API     string  `json:"api"`
	Calls   int64   `json:"calls"`
	Waited  float64 `json:"waitedSeconds"`
	InLimit int     `json:"maxInFlight"`
}

// limiters holds one limiter per API of a client set.
type limiters struct {
	mu sync.Mutex
	by map[string]*limiter
	l  Limits
}

func newLimiters(l Limits) *limiters { return &limiters{by: map[string]*limiter{}, l: l} }

func (ls *limiters) get(api string) *limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l, ok := ls.by[api]; ok {
		return l
	}
	q := ls.l.Other
	switch api {
	case "compute":
		q = ls.l.Compute
	case "secretmanager":
		q = ls.l.SecretManager
	case "logging":
		q = ls.l.Logging
	case "monitoring":
		q = ls.l.Monitoring
	case "pubsub":
		q = ls.l.PubSub
	}
	l := newLimiter(q)
	ls.by[api] = l
	return l
}

func (ls *limiters) throttles() []Throttle {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var out []Throttle
	for api, l := range ls.by {
		out = append(out, Throttle{API: api, Calls: l.calls.Load(), Waited: time.Duration(l.waited.Load()).Seconds(), InLimit: cap(l.slots)})
	}
	return out
}

// grpcAPI maps a full gRPC method to its API and whether it writes.
func grpcAPI(method string) (api string, write bool) {
	service, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	switch {
	case strings.HasPrefix(service, "google.cloud.secretmanager."):
		api = "secretmanager"
	case strings.HasPrefix(service, "google.logging."):
		api = "logging"
	case strings.HasPrefix(service, "google.monitoring."):
		api = "monitoring"
	case strings.HasPrefix(service, "google.pubsub."):
		api = "pubsub"
	default:
		api = "other"
	}
	for _, p := range []string{"Get", "List", "Access", "Test"} {
		if strings.HasPrefix(name, p) {
			return api, false
		}
	}
	return api, true
}

// unaryInterceptor applies the limits to every unary gRPC call.
func (ls *limiters) unaryInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		api, write := grpcAPI(method)
		release, err := ls.get(api).acquire(ctx, write)
		if err != nil {
			return err
		}
		defer release()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// roundTripper applies the Compute limits to every REST request, then
// bounds the request itself by timeout: waiting for the rate budget does
// not count against it.
type roundTripper struct {
	next    http.RoundTripper
	l       *limiter
	timeout time.Duration
}

func (rt *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	release, err := rt.l.acquire(r.Context(), r.Method != http.MethodGet)
	if err != nil {
		return nil, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
	resp, err := rt.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	// The deadline must outlive RoundTrip: the caller still reads the body.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a request's timeout when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
