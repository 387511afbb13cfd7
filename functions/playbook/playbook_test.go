package playbook

import (
	"strings"
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
		for _, s := range p.All() {
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

// TestContainActsOutsideTheVMFirst pins issue 13's order and issue 19's
// split: the VM stop, egress cut, key disable, label and agents flag all
// start at once and are the containment; waiting for TERMINATED, the
// snapshot and the logs are the follow-up, the snapshot and the logs only
// once the VM is TERMINATED.
func TestContainActsOutsideTheVMFirst(t *testing.T) {
	p, _ := For("contain")
	after := map[string][]string{}
	for _, s := range p.Steps {
		after[s.Action] = s.After
	}
	for _, first := range []string{"stop-vm", "quarantine-tag", "disable-secrets", "label-incident", "stop-agents", "disable-identity"} {
		if a, ok := after[first]; !ok || len(a) != 0 {
			t.Errorf("%s: present=%v, after %v; want it in the containment, starting at once", first, ok, a)
		}
	}
	follow := map[string][]string{}
	for _, s := range p.FollowUp {
		follow[s.Action] = s.After
	}
	for _, later := range []string{"snapshot-disk", "collect-logs"} {
		if _, inContainment := after[later]; inContainment {
			t.Errorf("%s is in the containment: no request may wait on it", later)
		}
		if a := follow[later]; len(a) != 1 || a[0] != "vm-terminated" {
			t.Errorf("%s after %v, want a follow-up after vm-terminated only", later, a)
		}
	}
}

// TestHoldsAreWhatMakesTheSandboxHarmless pins which steps time to
// containment measures: egress, key, stop request and the disabled
// identity, never a courtesy.
func TestHoldsAreWhatMakesTheSandboxHarmless(t *testing.T) {
	for name, want := range map[string][]string{
		"contain":    {"quarantine-tag", "disable-secrets", "revoke-key", "stop-vm", "disable-identity"},
		"quarantine": {"quarantine-tag", "disable-secrets", "revoke-key", "disable-identity"},
		"notify":     nil,
	} {
		p, _ := For(name)
		var got []string
		for _, s := range p.Steps {
			if s.Holds {
				got = append(got, s.Action)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s holds %v, want %v", name, got, want)
		}
	}
}

// TestRestoreEnablesTheIdentityBeforeTheVM: the VM starts after the
// sandbox's account is enabled again, so it comes up with its identity.
func TestRestoreEnablesTheIdentityBeforeTheVM(t *testing.T) {
	for _, s := range Restore().Steps {
		if s.Action == "start-vm" {
			for _, a := range s.After {
				if a == "enable-identity" {
					return
				}
			}
			t.Fatalf("start-vm runs after %v, want enable-identity among them", s.After)
		}
	}
	t.Fatal("the restore plan has no start-vm")
}
