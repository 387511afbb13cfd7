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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// TestIncidentNotifiesOperatorChannels drives an alert through the
// provisioned emulated project and checks that the incident's report
// entry is what the operator is told of: the incident policy's log-match
// condition matches it, notifies the configured channels, and its
// documentation (filled from its label extractors, as Monitoring fills
// ${log.extracted_label.KEY}) names the sandbox, the outcome, what was
// done and the command that reads the report.
func TestIncidentNotifiesOperatorChannels(t *testing.T) {
	s := newSandbox(t, fastAgentTimeout)
	ctx := context.Background()
	if code := postEvent(t, "HandleAlert", structured, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d, logs:\n%s", code, s.logs)
	}
	const id = "alert-0.n1m3x8a2b7kq"
	project := s.cfg.Cloud.GCP.Project
	sb, err := provisioner.NewSandbox(s.cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}

	// The report entry, as anyone reading the incidents log finds it.
	var entry *loggingpb.LogEntry
	it := s.operator.Logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + project},
		Filter:        `logName="projects/` + project + `/logs/` + report.LogID + `" AND labels.incident="` + id + `"`,
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
		t.Fatalf("no report entry for %s in %s", id, report.LogID)
	}

	policies := map[string]*monitoringpb.AlertPolicy{}
	for _, p := range s.emu.Monitoring.AlertPolicies(project) {
		policies[p.GetDisplayName()] = p
	}
	pol := policies[sb.IncidentPolicyName()]
	if pol == nil {
		t.Fatalf("no policy %q among %v", sb.IncidentPolicyName(), policies)
	}
	if !slices.Equal(pol.GetNotificationChannels(), s.cfg.Coopguard.Notify.Channels) || len(pol.GetNotificationChannels()) == 0 {
		t.Errorf("incident policy notifies %v, want the configured %v", pol.GetNotificationChannels(), s.cfg.Coopguard.Notify.Channels)
	}
	if len(pol.GetConditions()) != 1 || pol.GetConditions()[0].GetConditionMatchedLog() == nil {
		t.Fatalf("incident policy conditions = %v, want one log match", pol.GetConditions())
	}
	match := pol.GetConditions()[0].GetConditionMatchedLog()
	f, err := logging.ParseFilter(match.GetFilter())
	if err != nil {
		t.Fatal(err)
	}
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

	// The notification's documentation, filled as Monitoring fills it.
	vars := map[string]string{}
	for key, expr := range match.GetLabelExtractors() {
		x, err := logging.ParseExtractor(expr)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := x.Extract(entry)
		if !ok {
			t.Errorf("label extractor %s = %s finds nothing in the report entry", key, expr)
		}
		vars["${log.extracted_label."+key+"}"] = v
	}
	fill := func(text string) string {
		for k, v := range vars {
			text = strings.ReplaceAll(text, k, v)
		}
		return text
	}
	doc := fill(pol.GetDocumentation().GetContent())
	subject := fill(pol.GetDocumentation().GetSubject())
	for _, want := range []string{"`" + s.cfg.VM.Name + "`", "**Outcome:** contained", "**Playbook:** contain", "stop-vm done", "coopguard incidents show " + id} {
		if !strings.Contains(doc, want) {
			t.Errorf("documentation lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "${") || !strings.Contains(subject, s.cfg.VM.Name) || !strings.Contains(subject, "contained") {
		t.Errorf("notification not filled: subject %q\n%s", subject, doc)
	}

	dl := policies[provisioner.DeadLetterPolicyName]
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
