package detect

import (
	"slices"
	"sync"
	"testing"
)

// TestCompileSharesAnEnginePerRules: Compile of the same rules returns the
// one Engine compiled first, also to concurrent callers; rules that differ
// in any field, even where a naive concatenation of the fields would be
// equal, get their own Engine with their own rules and results.
func TestCompileSharesAnEnginePerRules(t *testing.T) {
	base := Rule{Name: "cache-test", Expression: "true", Playbook: "notify", Severity: "WARNING"}
	first, err := Compile([]Rule{base})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*Engine, 8)
	for i := range got {
		wg.Go(func() {
			e, err := Compile([]Rule{base})
			if err != nil {
				t.Error(err)
			}
			got[i] = e
		})
	}
	wg.Wait()
	for i, e := range got {
		if e != first {
			t.Errorf("concurrent Compile %d of the same rules built another Engine", i)
		}
	}

	tests := []struct {
		name  string
		rules []Rule
	}{
		{"other name", []Rule{{Name: "cache-test-2", Expression: base.Expression, Playbook: base.Playbook, Severity: base.Severity}}},
		{"other expression", []Rule{{Name: base.Name, Expression: "false", Playbook: base.Playbook, Severity: base.Severity}}},
		{"other playbook", []Rule{{Name: base.Name, Expression: base.Expression, Playbook: "contain", Severity: base.Severity}}},
		{"other severity", []Rule{{Name: base.Name, Expression: base.Expression, Playbook: base.Playbook, Severity: "CRITICAL"}}},
		{"fields shifted", []Rule{{Name: "cache-", Expression: "testtrue", Playbook: base.Playbook, Severity: base.Severity}}},
		{"one more rule", []Rule{base, {Name: "second", Expression: "true", Playbook: "notify", Severity: "INFO"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.rules)
			if tt.name == "fields shifted" {
				// "testtrue" is not a CEL boolean: its own result, an error.
				if err == nil || e != nil {
					t.Fatalf("Compile = %v, %v; want the shifted rule's own compile error", e, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e == first {
				t.Fatal("different rules share the first Engine")
			}
			if !slices.Equal(e.Rules(), tt.rules) {
				t.Errorf("Rules() = %v, want %v", e.Rules(), tt.rules)
			}
			if again, _ := Compile(tt.rules); again != e {
				t.Error("a second Compile of these rules built another Engine")
			}
		})
	}

	// An invalid list gives its errors every time.
	bad := []Rule{{Name: "cache-bad", Expression: "1", Playbook: "notify", Severity: "INFO"}}
	for range 2 {
		if e, err := Compile(bad); err == nil || e != nil {
			t.Errorf("Compile(non-boolean rule) = %v, %v; want an error", e, err)
		}
	}
}
