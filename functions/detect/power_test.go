package detect

import (
	"context"
	"testing"
)

// TestPowerEventsAreNoIncident pins that a VM's stop and start by its
// user, by coopguard, and GCP's preemption of a Spot VM match no rule and
// are told apart by PowerEvent; the sandbox's own account stopping its VM
// is still the agent reaching out (RuleSandboxSAWrite).
func TestPowerEventsAreNoIncident(t *testing.T) {
	const vm = `"resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/claude-sandbox"`
	by := func(p string) string { return `"authenticationInfo":{"principalEmail":"` + p + `"}` }
	systemEvent := func(p string) []byte {
		return logEntry("projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Fsystem_event", p)
	}
	tests := []struct {
		name      string
		entry     []byte
		wantCause Cause
		wantOK    bool
		wantRules []string
	}{
		{"user stops the VM", auditEntry(`{` + by("dev@example.com") + `,"methodName":"v1.compute.instances.stop",` + vm + `}`), CauseUser, true, nil},
		{"user starts the VM", auditEntry(`{` + by("dev@example.com") + `,"methodName":"v1.compute.instances.start",` + vm + `}`), CauseUser, true, nil},
		{"GCP preempts the Spot VM", systemEvent(`{` + by("system@google.com") + `,"methodName":"compute.instances.preempted",` + vm + `,"status":{"message":"Instance was preempted."}}`), CausePreemption, true, nil},
		{"coopguard stops the VM", auditEntry(`{` + by(testSandbox.Coopguard[0]) + `,"methodName":"v1.compute.instances.stop",` + vm + `}`), CauseCoopguard, true, nil},
		{"a preemption outside the system event log is not GCP's", auditEntry(`{` + by("system@google.com") + `,"methodName":"compute.instances.preempted",` + vm + `}`), "", false, nil},
		{"a preemption by another principal is not GCP's", systemEvent(`{` + by("dev@example.com") + `,"methodName":"compute.instances.preempted",` + vm + `}`), "", false, nil},
		{"user stops another VM", auditEntry(`{` + by("dev@example.com") + `,"methodName":"v1.compute.instances.stop","resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/other"}`), "", false, nil},
		{"the sandbox's account stops its VM", auditEntry(`{` + by(sandboxSA) + `,"methodName":"v1.compute.instances.stop",` + vm + `}`), CauseSandbox, true, []string{RuleSandboxSAWrite}},
	}
	eng := defaultEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := decode(t, tt.entry)
			if err := Genuine(e, "coopguard-demo"); err != nil {
				t.Fatalf("not genuine: %v", err)
			}
			cause, ok := PowerEvent(e, testSandbox)
			if cause != tt.wantCause || ok != tt.wantOK {
				t.Errorf("PowerEvent = %q, %v; want %q, %v", cause, ok, tt.wantCause, tt.wantOK)
			}
			matches, err := eng.Evaluate(context.Background(), e, testSandbox)
			if err != nil {
				t.Fatal(err)
			}
			if got := ruleNames(matches); len(got) != len(tt.wantRules) || (len(got) > 0 && got[0] != tt.wantRules[0]) {
				t.Errorf("rules = %v, want %v", got, tt.wantRules)
			}
		})
	}
}
