package coalesce

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

func TestBurstCostsTwoCalls(t *testing.T) {
	var g Group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	fn := func(context.Context) (int, error) {
		n := calls.Add(1)
		if n == 1 {
			started <- struct{}{}
			<-release // hold the first call until everyone queued
		}
		return int(n), nil
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if v, _ := g.Do(context.Background(), "k", fn); v != 1 {
			t.Errorf("first caller got %d, want 1", v)
		}
	})
	<-started
	results := make([]int, 50)
	var queued sync.WaitGroup
	for i := range results {
		queued.Add(1)
		wg.Go(func() {
			queued.Done()
			results[i], _ = g.Do(context.Background(), "k", fn)
		})
	}
	queued.Wait()
	// Every follower has at least entered Do; let those that have not yet
	// locked the group do so before the first call ends.
	for !waiting(&g, "k") {
	}
	close(release)
	wg.Wait()
	for i, v := range results {
		if v < 2 {
			t.Errorf("follower %d got the result of a call that started before it arrived (%d)", i, v)
		}
	}
	if n := calls.Load(); n > 51 || n < 2 {
		t.Errorf("%d calls", n)
	}
}

// waiting reports whether a follower call is queued for key.
func waiting(g *Group[int], key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.keys[key]
	return s != nil && s.next != nil
}

func TestDistinctKeysDoNotShare(t *testing.T) {
	var g Group[string]
	a, _ := g.Do(context.Background(), "a", func(context.Context) (string, error) { return "A", nil })
	b, _ := g.Do(context.Background(), "b", func(context.Context) (string, error) { return "B", nil })
	if a != "A" || b != "B" {
		t.Errorf("a=%s b=%s", a, b)
	}
}
