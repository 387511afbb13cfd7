package posture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/shared/incident"
)

func report(statuses map[string]posture.Status) posture.Report {
	rep := posture.Report{Project: "p", Zone: "us-central1-a", Sandbox: "claude-sandbox"}
	for _, ch := range posture.Checks() {
		st, ok := statuses[ch.Name()]
		if !ok {
			st = posture.Pass
		}
		rep.Results = append(rep.Results, posture.Result{Check: ch.Name(), Status: st, Evidence: ch.Name() + " evidence"})
	}
	return rep
}

func TestDriftIncident(t *testing.T) {
	day := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ssh := map[string]posture.Status{"ssh-iap-only": posture.Fail}
	sshAndIP := map[string]posture.Status{"ssh-iap-only": posture.Fail, "no-external-ip": posture.Fail}
	tests := []struct {
		name      string
		a, b      map[string]posture.Status
		aAt, bAt  time.Time
		wantA     bool
		sameID    bool
		trigger   string
		checkBoth bool
	}{
		{"all pass: no incident", nil, nil, day, day, false, false, "", false},
		{"read errors are not drift", map[string]posture.Status{"log-sink": posture.Error}, nil, day, day, false, false, "", false},
		{"same failures later that day: same incident", ssh, ssh, day, day.Add(14 * time.Hour), true, true, "posture: ssh-iap-only", true},
		{"same failures next day: new incident", ssh, ssh, day, day.Add(24 * time.Hour), true, false, "posture: ssh-iap-only", true},
		{"another failure: new incident", ssh, sshAndIP, day, day, true, false, "posture: ssh-iap-only", true},
		{"order of checks does not matter", sshAndIP, sshAndIP, day, day.Add(time.Hour), true, true, "posture: no-external-ip, ssh-iap-only", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := posture.DriftIncident(report(tt.a), "p", tt.aAt)
			if ok != tt.wantA {
				t.Fatalf("incident = %v, want %v", ok, tt.wantA)
			}
			if !ok {
				return
			}
			if a.Source != incident.SourcePosture || a.Playbook != incident.PlaybookNotify || a.Project != "p" || a.Zone != "us-central1-a" ||
				a.Trigger != tt.trigger || !a.StartedAt.Equal(tt.aAt) || !strings.HasPrefix(a.ID, "posture-20260301-") {
				t.Errorf("incident = %+v", a)
			}
			if !strings.Contains(a.Summary, "ssh-iap-only: ssh-iap-only evidence") {
				t.Errorf("summary = %q, want the failing evidence", a.Summary)
			}
			if a.LabelValue() != a.ID {
				t.Errorf("id %q is not a valid label value as is (%q)", a.ID, a.LabelValue())
			}
			if !tt.checkBoth {
				return
			}
			b, ok := posture.DriftIncident(report(tt.b), "p", tt.bAt)
			if !ok {
				t.Fatal("second report: no incident")
			}
			if (a.ID == b.ID) != tt.sameID {
				t.Errorf("ids %s and %s: same = %v, want %v", a.ID, b.ID, a.ID == b.ID, tt.sameID)
			}
		})
	}
}
