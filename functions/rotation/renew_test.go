package rotation

import (
	"slices"
	"testing"
	"time"
)

func TestRenew(t *testing.T) {
	incidentAt := t0.Add(-time.Hour)
	cases := []struct {
		name      string
		versions  []Version
		keySource bool
		add       bool
		disable   []int64
		notAdded  bool
	}{
		{"contained: every version disabled, a new one is minted",
			[]Version{ver(1, StateDisabled, 30*day), ver(2, StateDisabled, 2*day)}, true, true, []int64{}, false},
		{"young enabled versions are taken away with the new one, without grace",
			[]Version{ver(1, StateEnabled, 30*day), ver(2, StateEnabled, 2*time.Hour)}, true, true, []int64{2, 1}, false},
		{"a version added by hand since the incident is kept, the rest disabled",
			[]Version{ver(1, StateDisabled, 30*day), ver(2, StateEnabled, 2*time.Hour), ver(3, StateEnabled, time.Minute)}, false, false, []int64{2}, false},
		{"run again: nothing left to do",
			[]Version{ver(2, StateDisabled, 2*time.Hour), ver(3, StateEnabled, time.Minute)}, true, false, []int64{}, false},
		{"no key source and nothing fresh: nothing changes",
			[]Version{ver(1, StateEnabled, 30*day)}, false, false, []int64{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Renew(Decide(c.versions, t0, defaultPolicy), incidentAt, c.keySource)
			if p.AddVersion != c.add || !slices.Equal(numbers(p.Disable), c.disable) || (p.NotAdded != "") != c.notAdded || len(p.Destroy) != 0 {
				t.Errorf("add=%v disable=%v notAdded=%q destroy=%v; want add=%v disable=%v notAdded=%v", p.AddVersion, numbers(p.Disable), p.NotAdded, numbers(p.Destroy), c.add, c.disable, c.notAdded)
			}
			if err := checkPlan(p); err != nil {
				t.Errorf("checkPlan refused the renewal: %v", err)
			}
		})
	}
}
