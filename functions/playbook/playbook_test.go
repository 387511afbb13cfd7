package playbook

import (
	"testing"

	"github.com/cloudcoop/coopguard/functions/actions"
)

// TestPlansAreValidDAGs checks every playbook names real actions, orders
// each step after steps that come earlier, and has no duplicate.
func TestPlansAreValidDAGs(t *testing.T) {
	for name := range plans {
		p, err := For(name)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, s := range p.Steps {
			if _, ok := actions.Lookup(s.Action); !ok {
				t.Errorf("%s: unknown action %q", name, s.Action)
			}
			if seen[s.Action] {
				t.Errorf("%s: %s twice", name, s.Action)
			}
			for _, a := range s.After {
				if !seen[a] {
					t.Errorf("%s: %s runs after %s, which is not an earlier step", name, s.Action, a)
				}
			}
			seen[s.Action] = true
		}
	}
	if _, err := For("delete-everything"); err == nil {
		t.Error("unknown playbook accepted")
	}
}

// TestContainActsOutsideTheVMFirst pins issue 13's order: the VM stop,
// egress cut, key disable, label and agents flag all start at once; only
// the snapshot and the logs wait, and only for the VM stop.
func TestContainActsOutsideTheVMFirst(t *testing.T) {
	p, _ := For("contain")
	after := map[string][]string{}
	for _, s := range p.Steps {
		after[s.Action] = s.After
	}
	for _, first := range []string{"stop-vm", "quarantine-tag", "disable-secrets", "label-incident", "stop-agents"} {
		if a, ok := after[first]; !ok || len(a) != 0 {
			t.Errorf("%s: present=%v, after %v; want it to start at once", first, ok, a)
		}
	}
	for _, later := range []string{"snapshot-disk", "collect-logs"} {
		if a := after[later]; len(a) != 1 || a[0] != "stop-vm" {
			t.Errorf("%s after %v, want after stop-vm only", later, a)
		}
	}
}
