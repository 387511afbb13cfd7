package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// TestScheduledReviewReachesTheChannels: the weekly Cloud Scheduler job
// runs Review as the reviewer; the review of the sandbox, whose incident
// was contained this week, is recorded in the incident store with its
// summary and the command that reads it, and its entry in coopguard's
// incidents log is one the sandbox's incident policy matches, which
// notifies the configured channels. Another Scheduler job is acknowledged
// and does nothing.
func TestScheduledReviewReachesTheChannels(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	ctx := context.Background()
	project := s.cfg.Cloud.GCP.Project
	if code := s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d", code)
	}
	s.finishFollowUps(t)

	other := events.PubSubMessage{Data: []byte(`{"reason":"scheduled"}`), Attributes: map[string]string{events.AttrSchedulerJob: functions.RotateKeysJob}, MessageID: "review-other"}
	if code, body := s.postPubSub(t, "/Review", other, false); code != http.StatusOK {
		t.Fatalf("Review of another job = %d %s", code, body)
	}
	if n := len(s.incidents(t)); n != 1 {
		t.Fatalf("another job's message made a review: %d records", n)
	}

	msg := events.PubSubMessage{Data: []byte(`{"reason":"scheduled"}`), Attributes: map[string]string{events.AttrSchedulerJob: functions.ReviewJob}, MessageID: "review-1"}
	if code, body := s.postPubSub(t, "/Review", msg, false); code != http.StatusOK {
		t.Fatalf("Review = %d %s; logs:\n%s", code, body, s.logs)
	}
	var rec incident.Report
	for id, r := range s.incidents(t) {
		if strings.HasPrefix(id, "review-"+s.cfg.VM.Name+"-") {
			rec = r
		}
	}
	if rec.Outcome != incident.OutcomeNotified || rec.Instance != s.cfg.VM.Name || rec.Incident.Source != functions.SourceReview {
		t.Fatalf("review record = %+v", rec)
	}
	for _, want := range []string{"1 incident(s) (1 still open)", "coopguard review --since 7d"} {
		if !strings.Contains(rec.Incident.Summary, want) {
			t.Errorf("the review's summary %q lacks %q", rec.Incident.Summary, want)
		}
	}

	// Its copy in the incidents log, as the channels' policy reads it.
	var entry *loggingpb.LogEntry
	it := s.operator.Logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + project},
		Filter:        `logName="projects/` + project + `/logs/` + report.LogID + `" AND labels.incident="` + rec.Incident.ID + `"`,
	})
	for {
		e, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entry = e
	}
	if entry == nil {
		t.Fatalf("no entry for %s in %s", rec.Incident.ID, report.LogID)
	}
	sb, err := provisioner.NewSandbox(s.cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var pol *monitoringpb.AlertPolicy
	for _, p := range s.emu.Monitoring.AlertPolicies(project) {
		if p.GetDisplayName() == sb.IncidentPolicyName() {
			pol = p
		}
	}
	if pol == nil || len(pol.GetNotificationChannels()) == 0 || !slices.Equal(pol.GetNotificationChannels(), s.cfg.Coopguard.Notify.Channels) {
		t.Fatalf("incident policy %v does not notify the configured channels %v", pol, s.cfg.Coopguard.Notify.Channels)
	}
	f, err := logging.ParseFilter(pol.GetConditions()[0].GetConditionMatchedLog().GetFilter())
	if err != nil {
		t.Fatal(err)
	}
	if !f.MatchEntry(entry) {
		t.Errorf("the incident policy's condition does not match the review's entry %v", entry)
	}

	// A redelivery finds the review recorded: one record, still notified.
	if code, body := s.postPubSub(t, "/Review", msg, false); code != http.StatusOK {
		t.Fatalf("redelivery = %d %s", code, body)
	}
	if got := s.incidents(t)[rec.Incident.ID]; got.Outcome != incident.OutcomeNotified || got.Incident.Summary != rec.Incident.Summary {
		t.Errorf("after the redelivery: %+v", got)
	}
}
