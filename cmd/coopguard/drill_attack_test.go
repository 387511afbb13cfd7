package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/attack"
)

// TestDrillAttack runs `coopguard drill --attack` as README shows it: list
// names every drill, an attack prints its chain and ends contained, a
// benign drill opens no incident, an unknown name is a usage error.
func TestDrillAttack(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := realMain(context.Background(), []string{"drill", "--attack", "list"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range attack.Scenarios() {
		if !strings.Contains(out.String(), s.Name+" ") {
			t.Errorf("drill --attack list does not name %s:\n%s", s.Name, out.String())
		}
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"firewall-widen", []string{"v1.compute.firewalls.patch", "(status 7)", "1 entries routed to topic coopguard-logs", "rule        sandbox-sa-denied", "contain → complete", "VM TERMINATED", "time from the call to containment", "PASS: want contained",
			"evidence    from Google Cloud (outside the VM)", "1 audited call (0 allowed, 1 denied or failed)", "evidence    written from inside the VM: untrusted"}},
		{"own-key-read", []string{"none matched: no incident", "after:  VM RUNNING, key versions [ENABLED]", "PASS: want left as it was"}},
		// A Stratus Red Team id, played by another principal.
		{"gcp.execution.modify-gce-startup-script", []string{"v1.compute.instances.setMetadata", "rule        sandbox-handed-power", "contain → complete", "PASS: want contained"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := realMain(context.Background(), []string{"drill", "--attack", tc.name}, &out); err != nil {
				t.Fatalf("drill --attack %s: %v\n%s", tc.name, err, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("drill --attack %s printed no %q:\n%s", tc.name, w, out.String())
				}
			}
			if strings.Contains(out.String(), "map[") {
				t.Errorf("drill --attack %s printed a Go map:\n%s", tc.name, out.String())
			}
		})
	}
	err := realMain(context.Background(), []string{"drill", "--attack", "nope"}, &bytes.Buffer{})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "privilege-escalation") {
		t.Errorf("drill --attack nope: err = %v, want a usage error naming the drills", err)
	}
}
