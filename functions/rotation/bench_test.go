package rotation

import (
	"context"
	"fmt"
	"testing"
	"time"
)

const (
	scaleSecrets  = 200
	scaleVersions = 50
	scalePageSize = 20 // below the version count, so every listing is paged
)

// seedScale creates scaleSecrets secrets named prefix-N, each with
// scaleVersions ENABLED versions a day apart (the newest 10 days old), and
// returns their ids.
func seedScale(tb testing.TB, f *fixture, prefix string) []string {
	tb.Helper()
	ages := make([]time.Duration, scaleVersions)
	for i := range ages {
		ages[i] = time.Duration(scaleVersions-1-i+10) * day
	}
	ids := make([]string, scaleSecrets)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
		f.seed(tb, ids[i], ages...)
	}
	return ids
}

// checkScaleCalls asserts that one run over the seeded secrets paged its
// listings, fetched no version on its own, and disabled every superseded
// version once.
func checkScaleCalls(tb testing.TB, f *fixture) {
	tb.Helper()
	pages := (scaleVersions + scalePageSize - 1) / scalePageSize
	want := map[string]int{
		mList:    scaleSecrets * pages,
		mGet:     0,
		mAccess:  0,
		mAdd:     0,
		mDisable: scaleSecrets * (scaleVersions - 1),
		mDestroy: 0,
	}
	for m, n := range want {
		if got := f.emu.Faults.Calls(m); got != n {
			tb.Errorf("%s: %d calls, want %d", m, got, n)
		}
	}
}

// TestRunAtScaleCallCounts is the benchmark's assertion as a plain test,
// so `go test` checks it on every run.
func TestRunAtScaleCallCounts(t *testing.T) {
	f := newFixture(t)
	ids := seedScale(t, f, "s")
	r := f.runner(defaultPolicy, ids...)
	r.PageSize = scalePageSize
	f.emu.Faults.Reset()
	rep, err := r.Run(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkScaleCalls(t, f)
	for _, s := range rep.Secrets {
		if len(s.Versions) != scaleVersions {
			t.Fatalf("%s: %d versions listed, want %d", s.Secret, len(s.Versions), scaleVersions)
		}
	}
	// The second run only lists.
	f.emu.Faults.Reset()
	if _, err := r.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	if n := f.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("second run made %d mutations", n)
	}
}

// BenchmarkRotate200x50 is one rotation run over 200 secrets of 50
// versions each, every version but the newest superseded: 9,800 disables.
func BenchmarkRotate200x50(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		ids := seedScale(b, f, fmt.Sprintf("b%d", i))
		r := f.runner(defaultPolicy, ids...)
		r.PageSize = scalePageSize
		f.emu.Faults.Reset()
		b.StartTimer()
		if _, err := r.Run(context.Background(), Options{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		checkScaleCalls(b, f)
		b.StartTimer()
	}
}
