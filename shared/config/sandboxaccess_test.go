package config

import (
	"slices"
	"testing"
)

func TestSandboxConditionRoundTrips(t *testing.T) {
	tests := []struct {
		names, want []string
	}{
		{[]string{"claude-sandbox"}, []string{"claude-sandbox"}},
		{[]string{"b", "a", "b"}, []string{"a", "b"}},
		{nil, nil},
	}
	for _, tt := range tests {
		expr := SandboxCondition("p1", "us-central1-a", tt.names)
		if got := SandboxesIn(expr, "p1", "us-central1-a"); !slices.Equal(got, tt.want) {
			t.Errorf("SandboxesIn(SandboxCondition(%v)) = %v, want %v (expression %s)", tt.names, got, tt.want, expr)
		}
		if got := SandboxesIn(expr, "p2", "us-central1-a"); len(got) != 0 && len(tt.want) != 0 {
			t.Errorf("another project's sandboxes: %v", got)
		}
	}
	if got := SandboxCondition("p1", "z", []string{"a"}); got != `resource.name == "projects/p1/zones/z/instances/a" || resource.name == "projects/p1/zones/z/disks/a"` {
		t.Errorf("expression = %s", got)
	}
}
