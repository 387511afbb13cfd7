package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestFinishIncidentsTakesOnlyItsJob: FinishIncidents acts only on its own
// Cloud Scheduler job's message; anything else reaching its topic (another
// job's message, a message with no job, an undecodable envelope) is
// acknowledged with 2xx, so it is not redelivered, and changes nothing.
func TestFinishIncidentsTakesOnlyItsJob(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	if code := s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d", code)
	}
	const id = "alert-0.n1m3x8a2b7kq"
	// The VM has stopped: a follow-up look now would take the snapshot.
	s.emu.Clock.Advance(2 * time.Minute)
	before := s.emu.Faults.MutationSnapshot()
	for _, tc := range []struct {
		name  string
		data  []byte
		attrs map[string]string
	}{
		{"another job", []byte(`{"reason":"scheduled"}`), map[string]string{"coopguard-job": "rotate-keys"}},
		{"no job", []byte(`{"reason":"scheduled"}`), nil},
		{"not JSON", []byte(`not json`), map[string]string{"coopguard-job": "finish-incidents"}},
	} {
		if code := s.postEvent(t, "FinishIncidents", binary, tc.data, tc.attrs); code != http.StatusOK {
			t.Errorf("%s: FinishIncidents = %d, want 200 (acknowledged)", tc.name, code)
		}
	}
	if code := s.postEnvelope(t, "FinishIncidents", binary, []byte(`{"message":`), "bad-envelope"); code != http.StatusOK {
		t.Errorf("undecodable envelope: FinishIncidents = %d, want 200 (acknowledged)", code)
	}
	if d := resourceMutations(s.emu.Faults.MutationSnapshot()) - resourceMutations(before); d != 0 {
		t.Errorf("messages that are not its job made %d mutating calls", d)
	}
	if rep := s.incidents(t)[id]; rep.FollowUp != incident.FollowUpRunning {
		t.Errorf("follow-up %q after messages that are not its job, want still running", rep.FollowUp)
	}
	s.finishFollowUps(t)
	if rep := s.incidents(t)[id]; rep.Outcome != incident.OutcomeComplete {
		t.Errorf("after its own job's runs: %s (%s), want complete", rep.Outcome, rep.Reason)
	}
}
