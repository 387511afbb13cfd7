package emulator

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Clock is the emulated GCP's time: real time unless a test sets it.
// It is also a retry.Clock (and gcp.Options.Clock): a pause on it moves it
// instead of taking time, and a deadline on it passes when a test, a wait
// on an operation (GCPTime) or a hung call (GCPTime) moves it there.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	fixed  time.Time
	timers map[*clockTimer]struct{}
}

// clockTimer runs fire once the clock reaches at.
type clockTimer struct {
	at   time.Time
	fire func()
}

// FrozenClock returns a clock stopped at t, for fakes under test.
func FrozenClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now returns the emulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if !c.fixed.IsZero() {
		return c.fixed
	}
	return time.Now().Add(c.offset)
}

// Set freezes the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.fixed = t
	c.fireLocked()
}

// AdvanceTo moves the clock forward to t (never back).
func (c *Clock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	if !c.fixed.IsZero() {
		if t.After(c.fixed) {
			c.fixed = t
		}
	} else if d := time.Until(t) - c.offset; d > 0 {
		c.offset += d
	}
	c.fireLocked()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	if !c.fixed.IsZero() {
		c.fixed = c.fixed.Add(d)
	} else {
		c.offset += d
	}
	c.fireLocked()
}

// fireLocked runs, after unlocking, the timers the clock has reached.
func (c *Clock) fireLocked() {
	now := c.nowLocked()
	var due []*clockTimer
	for t := range c.timers {
		if !now.Before(t.at) {
			due = append(due, t)
			delete(c.timers, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.fire()
	}
}

// afterFunc runs fire once the clock has moved d, and returns a function
// that stops it. An unfrozen clock also moves with real time, so a real
// timer of d fires it as well.
func (c *Clock) afterFunc(d time.Duration, fire func()) (stop func()) {
	c.mu.Lock()
	t := &clockTimer{at: c.nowLocked().Add(d), fire: fire}
	if c.timers == nil {
		c.timers = map[*clockTimer]struct{}{}
	}
	c.timers[t] = struct{}{}
	var real *time.Timer
	if c.fixed.IsZero() {
		real = time.AfterFunc(d, fire)
	}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.timers, t)
		c.mu.Unlock()
		if real != nil {
			real.Stop()
		}
	}
}

// Sleep is a pause on the emulated clock: it moves the clock by d at once
// (what the code under test waits for costs no real time) unless ctx has
// ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// WithTimeout returns a copy of ctx that ends with
// context.DeadlineExceeded when the clock has moved d (or when ctx ends).
// Its Deadline is d from now in real time, so a call made with it tells
// the server how long it waits (gRPC's timeout, REST's X-Server-Timeout),
// and a hung call in virtual time moves the clock there (GCPTime).
func (c *Clock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	inner, cancel := context.WithCancelCause(ctx)
	dc := &deadlineCtx{Context: inner, deadline: time.Now().Add(d), done: make(chan struct{})}
	if pd, ok := ctx.Deadline(); ok && pd.Before(dc.deadline) {
		dc.deadline = pd
	}
	context.AfterFunc(inner, func() { close(dc.done) })
	stop := c.afterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return dc, func() {
		stop()
		cancel(context.Canceled)
	}
}

// deadlineCtx is context.WithTimeout's contract on the emulated clock:
// it ends with DeadlineExceeded when its timer fires. Its Done is a
// channel of its own, so that the contexts derived from it (a gRPC
// stream's, an HTTP request's) end with its Err rather than the inner
// context's Canceled, as children of a real deadline do.
type deadlineCtx struct {
	context.Context // the inner cancel context: values, cause
	deadline        time.Time
	done            chan struct{}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	if errors.Is(context.Cause(c.Context), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}
