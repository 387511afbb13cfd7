// Package coalesce merges concurrent identical calls: a caller that arrives
// while a call runs shares the result of the next call, which starts once
// the running one ends. Each caller still gets a result computed after it
// arrived, so nobody reads state older than their request; a burst of N
// identical requests costs two calls instead of N.
package coalesce

import (
	"context"
	"sync"
)

// Group coalesces calls per key.
type Group[T any] struct {
	mu   sync.Mutex
	keys map[string]*slot[T]
}

type slot[T any] struct {
	running bool
	next    *call[T]
}

type call[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Do runs fn, or waits for and shares the result of a call of fn for the
// same key that starts after this one arrived. fn runs detached from any
// single caller's cancellation, since others may be waiting on it.
func (g *Group[T]) Do(ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = map[string]*slot[T]{}
	}
	s, ok := g.keys[key]
	if !ok {
		s = &slot[T]{}
		g.keys[key] = s
	}
	if s.next == nil {
		s.next = &call[T]{done: make(chan struct{})}
	}
	c := s.next
	leader := !s.running
	if leader {
		s.running, s.next = true, nil
	}
	g.mu.Unlock()
	if leader {
		g.run(context.WithoutCancel(ctx), key, c, fn)
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run executes c, then every call that queued meanwhile, one at a time.
func (g *Group[T]) run(ctx context.Context, key string, c *call[T], fn func(context.Context) (T, error)) {
	for c != nil {
		c.val, c.err = fn(ctx)
		close(c.done)
		g.mu.Lock()
		s := g.keys[key]
		c, s.next = s.next, nil
		if c == nil {
			s.running = false
			delete(g.keys, key)
		}
		g.mu.Unlock()
	}
}
