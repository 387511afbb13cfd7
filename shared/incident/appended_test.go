package incident

import (
	"fmt"
	"testing"
	"time"
)

func TestAppendedCountsAndBounds(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		methods int // distinct methods, one event each, then one more of the first
		want    int // distinct method names kept
		other   int // events counted under OtherKind
	}{
		{"one method", 1, 1, 0},
		{"within the bound", MaxAppendedKinds - 1, MaxAppendedKinds - 1, 0},
		{"past the bound", MaxAppendedKinds + 10, MaxAppendedKinds, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Appended
			for i := range tt.methods {
				a.Add(t0.Add(time.Duration(tt.methods-i)*time.Second), fmt.Sprintf("m%03d", i), "rule")
			}
			a.Add(t0, "m000", "rule")
			if a.Count != tt.methods+1 {
				t.Errorf("count %d, want %d", a.Count, tt.methods+1)
			}
			if len(a.Methods) != tt.want || a.Methods[OtherKind] != tt.other || a.Methods["m000"] != 2 {
				t.Errorf("methods %v: want %d names, %d under %s, m000 twice", a.Methods, tt.want, tt.other, OtherKind)
			}
			if a.Rules["rule"] != a.Count {
				t.Errorf("rules %v, want every event under rule", a.Rules)
			}
			if !a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(time.Duration(tt.methods)*time.Second)) {
				t.Errorf("first %v last %v", a.FirstSeen, a.LastSeen)
			}
			var merged Appended
			merged.Merge(&a)
			merged.Merge(&a)
			if merged.Count != 2*a.Count || len(merged.Methods) > MaxAppendedKinds || !merged.FirstSeen.Equal(a.FirstSeen) {
				t.Errorf("merged twice: %+v", merged)
			}
		})
	}
	var none *Appended
	if none.String() != "" {
		t.Error("a nil Appended shows a line")
	}
}
