package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestScheduledRunTurnsPostureDriftIntoNotifyIncident: the daily Scheduler
// job also checks posture; this emulated project has no
// deployed functions, so the run records a notify incident naming them.
func TestScheduledRunTurnsPostureDriftIntoNotifyIncident(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	before := s.instance(t).GetStatus()
	if code := s.postEvent(t, "RotateKeys", binary, []byte(`{"reason":"scheduled"}`), map[string]string{"coopguard-job": "rotate-keys"}); code != http.StatusOK {
		t.Fatalf("RotateKeys = %d\n%s", code, s.logs)
	}
	var found *incident.Report
	for _, r := range s.incidents(t) {
		if r.Incident.Source == incident.SourcePosture {
			found = &r
		}
	}
	if found == nil {
		t.Fatalf("no posture incident; logs:\n%s", s.logs)
	}
	if found.Incident.Playbook != incident.PlaybookNotify || !strings.Contains(found.Incident.Trigger, "functions-authenticated") {
		t.Errorf("posture incident = %+v, want notify naming functions-authenticated", found.Incident)
	}
	if s.instance(t).GetStatus() != before {
		t.Error("a notify incident changed the VM")
	}
}
