// Package faults is the emulated GCP's shared switchboard: every fake calls
// Before at the start of each RPC, which counts the call, injects latency
// and returns any error queued for that method. Tests and benchmarks use it
// to slow calls down, make them fail, and count what the code under test did.
//
// Methods are named the way the API reference names them: REST methods as
// "compute.instances.insert", gRPC methods as their full name without the
// leading slash, e.g. "google.cloud.secretmanager.v1.SecretManagerService/AddSecretVersion".
package faults

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Fault is one injected failure of one call.
type Fault struct {
	// Code is the gRPC code the call fails with (REST fakes map it to the
	// matching HTTP status). codes.OK with Hang unset means no error.
	Code codes.Code
	// Message is the error text; a default is used when empty.
	Message string
	// Hang makes the call block until its context ends, like a call that
	// never answers.
	Hang bool
	// OperationError makes a long-running call accept the request but end
	// its operation in error (Compute operations only).
	OperationError bool
}

// Err returns the gRPC status error of f, or nil.
func (f Fault) Err() error {
	if f.Code == codes.OK {
		return nil
	}
	msg := f.Message
	if msg == "" {
		msg = "injected fault: " + f.Code.String()
	}
	return status.Error(f.Code, msg)
}

// Injector counts calls and injects latency and faults per method.
// The zero value is not usable; call New. It is safe for concurrent use.
type Injector struct {
	mu         sync.Mutex
	latency    map[string]time.Duration
	defLatency time.Duration
	queued     map[string][]Fault
	calls      map[string]int
	mutations  map[string]int
	hooks      []func(method string)
	// released ends every hung call when the emulator shuts down.
	released chan struct{}
	release  sync.Once
}

// New returns an Injector with no latency and no faults.
func New() *Injector {
	return &Injector{
		latency:   map[string]time.Duration{},
		queued:    map[string][]Fault{},
		calls:     map[string]int{},
		mutations: map[string]int{},
		released:  make(chan struct{}),
	}
}

// ReleaseHangs ends every hung call, now and later: servers shutting down
// must not wait for calls that would otherwise hang forever.
func (i *Injector) ReleaseHangs() { i.release.Do(func() { close(i.released) }) }

// SetLatency makes every call of method take at least d.
func (i *Injector) SetLatency(method string, d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.latency[method] = d
}

// SetDefaultLatency makes every call without its own latency take at least d.
func (i *Injector) SetDefaultLatency(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.defLatency = d
}

// FailNext queues f for the next n calls of method.
func (i *Injector) FailNext(method string, n int, f Fault) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for range n {
		i.queued[method] = append(i.queued[method], f)
	}
}

// OnCall registers fn to run (synchronously, before latency) on every call.
func (i *Injector) OnCall(fn func(method string)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.hooks = append(i.hooks, fn)
}

// Reset forgets counts, latencies and queued faults.
func (i *Injector) Reset() {
	i.mu.Lock()
	defer i.mu.Unlock()
	clear(i.latency)
	clear(i.queued)
	clear(i.calls)
	clear(i.mutations)
	i.defLatency = 0
}

// ForgetCounts forgets the calls counted so far and keeps the injected
// latencies and faults: what a world's setup (the deploy replay) called
// is not what the test then measures.
func (i *Injector) ForgetCounts() {
	i.mu.Lock()
	defer i.mu.Unlock()
	clear(i.calls)
	clear(i.mutations)
}

// Before is called by a fake at the start of every call. It counts the call
// (as a mutation when mutating is true), waits the injected latency, and
// returns the next queued fault for method. A Hang fault blocks until ctx
// ends and returns DeadlineExceeded or Canceled.
func (i *Injector) Before(ctx context.Context, method string, mutating bool) Fault {
	i.mu.Lock()
	i.calls[method]++
	if mutating {
		i.mutations[method]++
	}
	d, ok := i.latency[method]
	if !ok {
		d = i.defLatency
	}
	var f Fault
	if q := i.queued[method]; len(q) > 0 {
		f, i.queued[method] = q[0], q[1:]
	}
	hooks := i.hooks
	i.mu.Unlock()
	for _, h := range hooks {
		h(method)
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if f.Hang {
		select {
		case <-ctx.Done():
			return Fault{Code: status.FromContextError(ctx.Err()).Code()}
		case <-i.released:
			return Fault{Code: codes.Unavailable, Message: "emulator shutting down"}
		}
	}
	return f
}

// Calls returns how many calls of method were made.
func (i *Injector) Calls(method string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.calls[method]
}

// Mutations returns how many mutating calls of method were made.
func (i *Injector) Mutations(method string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.mutations[method]
}

// TotalCalls returns the number of calls of all methods.
func (i *Injector) TotalCalls() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	n := 0
	for _, c := range i.calls {
		n += c
	}
	return n
}

// TotalMutations returns the number of mutating calls of all methods.
func (i *Injector) TotalMutations() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	n := 0
	for _, c := range i.mutations {
		n += c
	}
	return n
}

// Snapshot returns a copy of the per-method call counts.
func (i *Injector) Snapshot() map[string]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[string]int, len(i.calls))
	for k, v := range i.calls {
		out[k] = v
	}
	return out
}

// MutationSnapshot returns a copy of the per-method mutating call counts.
func (i *Injector) MutationSnapshot() map[string]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[string]int, len(i.mutations))
	for k, v := range i.mutations {
		out[k] = v
	}
	return out
}

// Methods returns the sorted names of all methods called so far.
func (i *Injector) Methods() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make([]string, 0, len(i.calls))
	for k := range i.calls {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readOnlyPrefixes name gRPC methods that never change state.
var readOnlyPrefixes = []string{"Get", "List", "Access", "Test", "Query", "Batch"}

// IsReadOnlyRPC reports whether a gRPC method name (the part after the
// slash) reads without changing state.
func IsReadOnlyRPC(name string) bool {
	for _, p := range readOnlyPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// UnaryServerInterceptor applies the injector to every unary call of a gRPC
// server: count, latency, fault.
func (i *Injector) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		method := strings.TrimPrefix(info.FullMethod, "/")
		_, name, _ := strings.Cut(method, "/")
		if err := i.Before(ctx, method, !IsReadOnlyRPC(name)).Err(); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}
