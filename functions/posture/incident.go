package posture

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// DriftIncident turns a report with failing checks into a notify incident
// for the scheduled run, and reports false when nothing fails. Checks that
// could not run (status error) do not count: a transient API error is not
// drift, and the scheduled run logs it.
//
// The ID is stable for one day and one set of failing checks, so repeated
// runs on the same day (and Pub/Sub redeliveries) record one incident, a
// new failure makes a new one, and drift still there tomorrow is reported
// again.
func DriftIncident(rep Report, project string, now time.Time) (incident.Incident, bool) {
	failing := rep.Failing()
	if len(failing) == 0 {
		return incident.Incident{}, false
	}
	slices.Sort(failing)
	h := sha256.Sum256([]byte(strings.Join(failing, ",")))
	day := now.UTC().Format("20060102")
	var details []string
	for _, r := range rep.Results {
		if r.Status == Fail {
			details = append(details, r.Check+": "+r.Evidence)
		}
	}
	return incident.Incident{
		ID:        fmt.Sprintf("posture-%s-%s", day, hex.EncodeToString(h[:])[:10]),
		Source:    incident.SourcePosture,
		Trigger:   "posture: " + strings.Join(failing, ", "),
		Playbook:  incident.PlaybookNotify,
		Severity:  "WARNING",
		Project:   project,
		Zone:      rep.Zone,
		Summary:   fmt.Sprintf("%d posture check(s) fail: %s", len(failing), strings.Join(details, " | ")),
		StartedAt: now,
	}, true
}
