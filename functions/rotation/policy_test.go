package rotation

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// ver builds version n of a test secret, created age before t0.
func ver(n int64, state string, age time.Duration) Version {
	return Version{
		Name:       fmt.Sprintf("projects/p/secrets/k/versions/%d", n),
		Number:     n,
		State:      state,
		CreateTime: t0.Add(-age),
		Etag:       fmt.Sprintf(`"e%d"`, n),
	}
}

func numbers(vs []Version) []int64 {
	out := []int64{}
	for _, v := range vs {
		out = append(out, v.Number)
	}
	return out
}

var defaultPolicy = Policy{MaxAge: 90 * day, Grace: 24 * time.Hour}

func TestDecide(t *testing.T) {
	withSource := defaultPolicy
	withSource.KeySource = true
	destroying := defaultPolicy
	destroying.DestroyAfter = 7 * day
	keepOne := destroying
	keepOne.KeepDisabled = 1

	tests := []struct {
		name        string
		policy      Policy
		versions    []Version
		wantDisable []int64
		wantDestroy []int64
		wantDue     bool
		wantAdd     bool
		wantNewest  int64 // 0: none
	}{
		{
			name:       "one fresh version: nothing to do",
			policy:     defaultPolicy,
			versions:   []Version{ver(1, StateEnabled, 10*day)},
			wantNewest: 1,
		},
		{
			name:     "newer version inside grace: the old one stays enabled",
			policy:   defaultPolicy,
			versions: []Version{ver(1, StateEnabled, 30*day), ver(2, StateEnabled, 23*time.Hour)},
			// Consumers may still be reading version 1.
			wantNewest: 2,
		},
		{
			name:        "newer version past grace: the old one is disabled",
			policy:      defaultPolicy,
			versions:    []Version{ver(1, StateEnabled, 30*day), ver(2, StateEnabled, 25*time.Hour)},
			wantDisable: []int64{1},
			wantNewest:  2,
		},
		{
			name:        "exactly at grace counts as past it",
			policy:      defaultPolicy,
			versions:    []Version{ver(1, StateEnabled, 30*day), ver(2, StateEnabled, 24*time.Hour)},
			wantDisable: []int64{1},
			wantNewest:  2,
		},
		{
			name:   "chain: only versions older than the newest settled one go",
			policy: defaultPolicy,
			versions: []Version{
				ver(1, StateEnabled, 60*day), ver(2, StateEnabled, 20*day), ver(3, StateEnabled, time.Hour),
			},
			// 3 is in grace, so 2 (settled) stays for the consumers; 1 is superseded by 2.
			wantDisable: []int64{1},
			wantNewest:  3,
		},
		{
			name:       "the only version is never disabled, even when due",
			policy:     defaultPolicy,
			versions:   []Version{ver(1, StateEnabled, 400*day)},
			wantDue:    true,
			wantNewest: 1,
		},
		{
			name:       "due with a key source: add a version",
			policy:     withSource,
			versions:   []Version{ver(1, StateEnabled, 91*day)},
			wantDue:    true,
			wantAdd:    true,
			wantNewest: 1,
		},
		{
			name:        "due and superseded: disable the old, keep and report the newest",
			policy:      defaultPolicy,
			versions:    []Version{ver(1, StateEnabled, 200*day), ver(2, StateEnabled, 100*day)},
			wantDisable: []int64{1},
			wantDue:     true,
			wantNewest:  2,
		},
		{
			name:     "every version disabled (a containment): due, but no key minted and nothing destroyed",
			policy:   func() Policy { p := withSource; p.DestroyAfter = day; return p }(),
			versions: []Version{ver(1, StateDisabled, 200*day), ver(2, StateDisabled, 100*day)},
			wantDue:  true,
		},
		{
			name:     "no version at all: due, and a key source adds the first",
			policy:   withSource,
			versions: nil,
			wantDue:  true,
			wantAdd:  true,
		},
		{
			name:       "a disabled newer version does not supersede",
			policy:     defaultPolicy,
			versions:   []Version{ver(1, StateEnabled, 30*day), ver(2, StateDisabled, 10*day)},
			wantNewest: 1,
		},
		{
			name:        "destroy_after off: disabled versions are kept forever",
			policy:      defaultPolicy,
			versions:    []Version{ver(1, StateDisabled, 400*day), ver(2, StateEnabled, 300*day), ver(3, StateEnabled, 10*day)},
			wantDisable: []int64{2},
			wantNewest:  3,
		},
		{
			name:   "destroy_after: destroyed once superseded for grace + destroy_after",
			policy: destroying,
			versions: []Version{
				ver(1, StateDisabled, 100*day), // superseded by 2 99 days ago
				ver(2, StateDisabled, 99*day),  // superseded by 3 8 days ago: 8d >= 1d+7d
				ver(3, StateEnabled, 8*day),
				ver(4, StateEnabled, 2*day),
			},
			// 3 is superseded by 4 (settled), so disabled, but only 2 days ago.
			wantDisable: []int64{3},
			wantDestroy: []int64{2, 1},
			wantNewest:  4,
		},
		{
			name:   "destroy_after: superseded too recently",
			policy: destroying,
			versions: []Version{
				ver(1, StateDisabled, 100*day), // superseded by 2 7 days ago: 7d < 1d+7d
				ver(2, StateEnabled, 7*day),
			},
			wantNewest: 2,
		},
		{
			name:   "keep_disabled keeps the newest disabled versions",
			policy: keepOne,
			versions: []Version{
				ver(1, StateDisabled, 100*day), ver(2, StateDisabled, 90*day), ver(3, StateEnabled, 80*day),
			},
			wantDestroy: []int64{1},
			wantNewest:  3,
		},
		{
			name:   "superseded and old enough: disabled and destroyed in one run",
			policy: destroying,
			versions: []Version{
				ver(1, StateEnabled, 100*day), ver(2, StateEnabled, 50*day),
			},
			wantDisable: []int64{1},
			wantDestroy: []int64{1},
			wantNewest:  2,
		},
		{
			name:   "a destruction already scheduled is left alone",
			policy: destroying,
			versions: []Version{
				func() Version { v := ver(1, StateDisabled, 100*day); v.ScheduledDestroy = t0.Add(day); return v }(),
				ver(2, StateEnabled, 50*day),
			},
			wantNewest: 2,
		},
		{
			name:       "a create time in the future (clock skew) is within grace",
			policy:     defaultPolicy,
			versions:   []Version{ver(1, StateEnabled, 30*day), ver(2, StateEnabled, -time.Hour)},
			wantNewest: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.versions)
			p := Decide(tc.versions, t0, tc.policy)
			if !slices.Equal(in, tc.versions) {
				t.Fatal("Decide modified its input")
			}
			if got := numbers(p.Disable); !slices.Equal(got, nilToEmpty(tc.wantDisable)) {
				t.Errorf("Disable = %v, want %v", got, tc.wantDisable)
			}
			if got := numbers(p.Destroy); !slices.Equal(got, nilToEmpty(tc.wantDestroy)) {
				t.Errorf("Destroy = %v, want %v", got, tc.wantDestroy)
			}
			if p.Due != tc.wantDue || p.AddVersion != tc.wantAdd {
				t.Errorf("Due, AddVersion = %v, %v (%q), want %v, %v", p.Due, p.AddVersion, p.DueReason, tc.wantDue, tc.wantAdd)
			}
			if p.Due && p.DueReason == "" {
				t.Error("due without a reason")
			}
			if p.Due && !p.AddVersion && p.NotAdded == "" {
				t.Error("due, not added, and no word on why")
			}
			newest := int64(0)
			if p.NewestEnabled >= 0 {
				newest = p.Versions[p.NewestEnabled].Number
			}
			if newest != tc.wantNewest {
				t.Errorf("newest enabled = %d, want %d", newest, tc.wantNewest)
			}
			if tc.wantNewest != 0 {
				v := p.Versions[p.NewestEnabled]
				if !p.NextRotation.Equal(v.CreateTime.Add(tc.policy.MaxAge)) {
					t.Errorf("NextRotation = %v, want %v", p.NextRotation, v.CreateTime.Add(tc.policy.MaxAge))
				}
			}
			if err := checkPlan(p); err != nil {
				t.Error(err)
			}
			// Applying the plan and deciding again finds nothing more to
			// do: a repeated run changes nothing.
			after := apply(p)
			if again := Decide(after, t0, func() Policy { q := tc.policy; q.KeySource = false; return q }()); !again.Empty() {
				t.Errorf("second decision not empty: disable %v destroy %v", numbers(again.Disable), numbers(again.Destroy))
			}
		})
	}
}

func nilToEmpty(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// apply is what a successful run leaves behind.
func apply(p Plan) []Version {
	out := slices.Clone(p.Versions)
	for i := range out {
		for _, d := range p.Disable {
			if d.Name == out[i].Name {
				out[i].State = StateDisabled
			}
		}
		for _, d := range p.Destroy {
			if d.Name == out[i].Name {
				out[i].State = StateDestroyed
			}
		}
	}
	if p.AddVersion {
		out = append(out, Version{Name: "projects/p/secrets/k/versions/99", Number: 99, State: StateEnabled, CreateTime: t0})
	}
	return out
}

// TestDecideNeverLeavesNoEnabledVersion checks the invariant over every
// mix of states and ages of up to four versions.
func TestDecideNeverLeavesNoEnabledVersion(t *testing.T) {
	states := []string{StateEnabled, StateDisabled, StateDestroyed}
	ages := []time.Duration{-time.Hour, time.Hour, 2 * day, 100 * day, 400 * day}
	policies := []Policy{defaultPolicy, {MaxAge: 90 * day, Grace: 0, DestroyAfter: time.Nanosecond}, {MaxAge: time.Hour, Grace: time.Hour, DestroyAfter: day, KeepDisabled: 1}}
	var walk func(vs []Version)
	checked := 0
	walk = func(vs []Version) {
		for _, p := range policies {
			plan := Decide(vs, t0, p)
			enabledBefore, enabledAfter := 0, 0
			for _, v := range vs {
				if v.State == StateEnabled {
					enabledBefore++
				}
			}
			for _, v := range apply(Plan{Versions: plan.Versions, Disable: plan.Disable, Destroy: plan.Destroy}) {
				if v.State == StateEnabled {
					enabledAfter++
				}
			}
			if enabledBefore > 0 && enabledAfter == 0 {
				t.Fatalf("policy %+v leaves no enabled version of %+v", p, vs)
			}
			checked++
		}
		if len(vs) == 4 {
			return
		}
		for _, s := range states {
			for _, a := range ages {
				walk(append(slices.Clone(vs), ver(int64(len(vs)+1), s, a)))
			}
		}
	}
	walk(nil)
	if checked < 1000 {
		t.Fatalf("checked only %d cases", checked)
	}
}

func TestFormatAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{91*day + 3*time.Hour + 5*time.Minute, "91d3h"},
		{90 * day, "90d"},
		{5*time.Hour + 12*time.Minute, "5h12m"},
		{time.Hour, "1h"},
		{3 * time.Minute, "3m"},
		{40 * time.Second, "40s"},
		{-2 * time.Hour, "-2h"},
	} {
		if got := FormatAge(tc.d); got != tc.want {
			t.Errorf("FormatAge(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestVersionNumber(t *testing.T) {
	for name, want := range map[string]int64{
		"projects/p/secrets/s/versions/12": 12,
		"projects/p/secrets/s/versions/x":  0,
		"":                                 0,
	} {
		if got := VersionNumber(name); got != want {
			t.Errorf("VersionNumber(%q) = %d, want %d", name, got, want)
		}
	}
}
