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

func TestContainOrder(t *testing.T) {
	p, _ := For("contain")
	after := map[string][]string{}
	for _, s := range p.Steps {
		after[s.Action] = s.After
	}
	if len(after["stop-vm"]) != 2 || len(after["stop-agents"]) != 0 || len(after["disable-secrets"]) != 0 || after["snapshot-disk"][0] != "stop-vm" {
		t.Errorf("contain = %+v, want stop agents ∥ disable secrets → stop vm → snapshot", p.Steps)
	}
}
