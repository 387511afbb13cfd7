package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// TestDeafPolicyCatchesPipelineChanges: coopguard's sink disabled or
// deleted cannot route the audit entry of its own change; the deaf
// policy matches that entry in the project's Admin Activity log (written
// by the emulated GCP, read back as the operator reads it) and notifies
// the operator's channels. The provisioner restoring the sink, and
// another sink's deletion, tell nobody. Pub/Sub and Eventarc changes are
// matched on entries shaped as their audit logs document (the emulated
// Pub/Sub writes no audit entry).
func TestDeafPolicyCatchesPipelineChanges(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	ctx := context.Background()
	project := s.cfg.Cloud.GCP.Project
	sb, err := provisioner.NewSandbox(s.cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var pol *loggingMatch
	for _, p := range s.emu.Monitoring.AlertPolicies(project) {
		if p.GetDisplayName() == provisioner.DeafPolicyName && len(p.GetConditions()) == 1 {
			pol = &loggingMatch{filter: p.GetConditions()[0].GetConditionMatchedLog().GetFilter(), channels: p.GetNotificationChannels()}
		}
	}
	if pol == nil {
		t.Fatalf("no policy %q after provision", provisioner.DeafPolicyName)
	}
	if len(pol.channels) == 0 || len(pol.channels) != len(s.cfg.Coopguard.Notify.Channels) {
		t.Errorf("deaf policy notifies %v, want %v", pol.channels, s.cfg.Coopguard.Notify.Channels)
	}
	f, err := logging.ParseFilter(pol.filter)
	if err != nil {
		t.Fatal(err)
	}
	sink := "projects/" + project + "/sinks/" + sb.Sink()

	// Another sink, made and deleted by the operator: not coopguard's.
	if _, err := s.operator.LogConfig.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: "projects/" + project, Sink: &loggingpb.LogSink{
		Name: "team-archive", Destination: "pubsub.googleapis.com/projects/" + project + "/topics/" + s.cfg.Coopguard.Topics.Incidents}}); err != nil {
		t.Fatal(err)
	}
	if err := s.operator.LogConfig.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: "projects/" + project + "/sinks/team-archive"}); err != nil {
		t.Fatal(err)
	}
	// coopguard's sink disabled, then deleted.
	if _, err := s.operator.LogConfig.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: sink, Sink: &loggingpb.LogSink{Name: sb.Sink(), Disabled: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}}, UniqueWriterIdentity: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.operator.LogConfig.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: sink}); err != nil {
		t.Fatal(err)
	}
	// Provision puts it back: its own change tells nobody.
	if code, rep := s.provision(t, ""); code != 200 {
		t.Fatalf("provision = %d: %+v", code, rep.Failed())
	}

	matched := map[string]bool{}
	seen := 0
	for _, e := range logEntries(t, s, `logName="projects/`+project+`/logs/cloudaudit.googleapis.com%2Factivity" AND protoPayload.serviceName="logging.googleapis.com"`) {
		var a audit.AuditLog
		if err := e.GetProtoPayload().UnmarshalTo(&a); err != nil {
			t.Fatal(err)
		}
		seen++
		key := a.GetMethodName() + " " + a.GetResourceName() + " by " + a.GetAuthenticationInfo().GetPrincipalEmail()
		matched[key] = f.MatchEntry(e)
	}
	if seen == 0 {
		t.Fatal("no Logging Admin Activity entry")
	}
	operator, prov := emulator.Operator, config.AccountEmail(config.AccountProvisioner, project)
	for key, want := range map[string]bool{
		"google.logging.v2.ConfigServiceV2.UpdateSink " + sink + " by " + operator:                                true,
		"google.logging.v2.ConfigServiceV2.DeleteSink " + sink + " by " + operator:                                true,
		"google.logging.v2.ConfigServiceV2.CreateSink projects/" + project + "/sinks/team-archive by " + operator: false,
		"google.logging.v2.ConfigServiceV2.DeleteSink projects/" + project + "/sinks/team-archive by " + operator: false,
		"google.logging.v2.ConfigServiceV2.CreateSink " + sink + " by " + prov:                                    false,
	} {
		got, ok := matched[key]
		if !ok {
			t.Errorf("no audit entry %q among %v", key, matched)
			continue
		}
		if got != want {
			t.Errorf("deaf policy matches %q = %v, want %v", key, got, want)
		}
	}

	// Pub/Sub and Eventarc, on entries shaped as their audit logs say.
	shaped := func(svc, method, resource, principal string) *loggingpb.LogEntry {
		p, err := anypb.New(&audit.AuditLog{ServiceName: svc, MethodName: method, ResourceName: resource,
			AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: principal}})
		if err != nil {
			t.Fatal(err)
		}
		return &loggingpb.LogEntry{LogName: "projects/" + project + "/logs/cloudaudit.googleapis.com%2Factivity", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: p}}
	}
	tests := []struct {
		name  string
		entry *loggingpb.LogEntry
		want  bool
	}{
		{"logs topic deleted", shaped("pubsub.googleapis.com", "google.pubsub.v1.Publisher.DeleteTopic", sb.TopicPath(s.cfg.Coopguard.Topics.Logs), "mallory@example.com"), true},
		{"trigger's subscription deleted", shaped("pubsub.googleapis.com", "google.pubsub.v1.Subscriber.DeleteSubscription", "projects/"+project+"/subscriptions/eventarc-us-central1-coopguard-handle-log-entry-412-sub-771", "mallory@example.com"), true},
		{"subscription changed", shaped("pubsub.googleapis.com", "google.pubsub.v1.Subscriber.UpdateSubscription", "projects/"+project+"/subscriptions/"+provisioner.DeadLetterSubscription, "mallory@example.com"), true},
		{"trigger deleted", shaped("eventarc.googleapis.com", "google.cloud.eventarc.v1.Eventarc.DeleteTrigger", "projects/"+project+"/locations/us-central1/triggers/coopguard-handle-log-entry-412", "mallory@example.com"), true},
		{"HandleLogEntry's service deleted", shaped("run.googleapis.com", "google.cloud.run.v2.Services.DeleteService", "projects/"+project+"/locations/us-central1/services/coopguard-handle-log-entry", "mallory@example.com"), true},
		{"a function deleted through the Functions API", shaped("cloudfunctions.googleapis.com", "google.cloud.functions.v2.FunctionService.DeleteFunction", "projects/"+project+"/locations/us-central1/functions/coopguard-handle-log-entry", "mallory@example.com"), true},
		{"another team's service deleted", shaped("run.googleapis.com", "google.cloud.run.v2.Services.DeleteService", "projects/"+project+"/locations/us-central1/services/team-api", "mallory@example.com"), false},
		{"another team's topic deleted", shaped("pubsub.googleapis.com", "google.pubsub.v1.Publisher.DeleteTopic", "projects/"+project+"/topics/billing-export", "mallory@example.com"), false},
		{"coopguard topic created", shaped("pubsub.googleapis.com", "google.pubsub.v1.Publisher.CreateTopic", sb.TopicPath(s.cfg.Coopguard.Topics.Logs), "mallory@example.com"), false},
		{"look-alike in a user log", func() *loggingpb.LogEntry {
			e := shaped("pubsub.googleapis.com", "google.pubsub.v1.Publisher.DeleteTopic", sb.TopicPath(s.cfg.Coopguard.Topics.Logs), "mallory@example.com")
			e.LogName = "projects/" + project + "/logs/cloudaudit.googleapis.com-activity"
			return e
		}(), false},
	}
	for _, tt := range tests {
		if got := f.MatchEntry(tt.entry); got != tt.want {
			t.Errorf("%s: deaf policy matches = %v, want %v", tt.name, got, tt.want)
		}
	}

	// coopguard's responder disabled and its reviewer deleted (by the
	// project or the - wildcard the IAM API takes) make it deaf; the
	// sandbox's own account disabled does not (that is a containment
	// step, and a rule's business).
	responder, reviewer := config.AccountEmail(config.AccountResponder, project), config.AccountEmail(config.AccountReviewer, project)
	sandboxSA := s.cfg.Cloud.GCP.ServiceAccount
	for _, name := range []string{"projects/-/serviceAccounts/" + responder, "projects/-/serviceAccounts/" + sandboxSA} {
		if err := s.operator.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); err != nil {
			t.Fatalf("disable %s: %v", name, err)
		}
	}
	if err := s.operator.IAMAdmin.DeleteServiceAccount(ctx, &adminpb.DeleteServiceAccountRequest{Name: "projects/" + project + "/serviceAccounts/" + reviewer}); err != nil {
		t.Fatal(err)
	}
	iamMatched := map[string]bool{}
	for _, e := range logEntries(t, s, `logName="projects/`+project+`/logs/cloudaudit.googleapis.com%2Factivity" AND protoPayload.serviceName="iam.googleapis.com"`) {
		var a audit.AuditLog
		if err := e.GetProtoPayload().UnmarshalTo(&a); err != nil {
			t.Fatal(err)
		}
		iamMatched[a.GetMethodName()+" "+a.GetResourceName()] = f.MatchEntry(e)
	}
	for key, want := range map[string]bool{
		"google.iam.admin.v1.DisableServiceAccount projects/-/serviceAccounts/" + responder:             true,
		"google.iam.admin.v1.DeleteServiceAccount projects/" + project + "/serviceAccounts/" + reviewer: true,
		"google.iam.admin.v1.DisableServiceAccount projects/-/serviceAccounts/" + sandboxSA:             false,
	} {
		got, ok := iamMatched[key]
		if !ok {
			t.Errorf("no audit entry %q among %v", key, iamMatched)
			continue
		}
		if got != want {
			t.Errorf("deaf policy matches %q = %v, want %v", key, got, want)
		}
	}
}

// loggingMatch is a log-match condition and the channels its policy
// notifies.
type loggingMatch struct {
	filter   string
	channels []string
}

// TestStatusSaysWhenDeaf: with its sink, topics and the triggers'
// subscriptions in place Status reports nothing; the sink disabled, or a
// trigger's subscription deleted, Status names it with the fix.
func TestStatusSaysWhenDeaf(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	ctx := context.Background()
	project := s.cfg.Cloud.GCP.Project
	sb, err := provisioner.NewSandbox(s.cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// What deploy's Eventarc triggers make: a subscription on each topic.
	subs := map[string]string{}
	for _, topic := range []string{s.cfg.Coopguard.Topics.Logs, s.cfg.Coopguard.Topics.Alerts} {
		subs[topic] = "projects/" + project + "/subscriptions/eventarc-us-central1-" + topic + "-sub-1"
		if _, err := s.operator.PubSub.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: subs[topic], Topic: sb.TopicPath(topic)}); err != nil {
			t.Fatal(err)
		}
	}
	deaf := func() string {
		t.Helper()
		code, b := s.do(t, http.MethodGet, "/Status", "", nil)
		if code != http.StatusOK {
			t.Fatalf("Status = %d %s", code, b)
		}
		var st functions.StatusReport
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range st.Deaf {
			out = append(out, f.What+" | "+f.Fix)
		}
		return strings.Join(out, "\n")
	}
	if got := deaf(); got != "" {
		t.Fatalf("Status says deaf with the pipeline whole:\n%s", got)
	}
	if _, err := s.operator.LogConfig.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: "projects/" + project + "/sinks/" + sb.Sink(),
		Sink: &loggingpb.LogSink{Name: sb.Sink(), Disabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}}, UniqueWriterIdentity: true}); err != nil {
		t.Fatal(err)
	}
	if got := deaf(); !strings.Contains(got, "log sink "+sb.Sink()+" is disabled") || !strings.Contains(got, "coopguard provision") {
		t.Errorf("sink disabled: Status says %q", got)
	}
	if err := s.operator.PubSub.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: subs[s.cfg.Coopguard.Topics.Logs]}); err != nil {
		t.Fatal(err)
	}
	if got := deaf(); !strings.Contains(got, "topic "+s.cfg.Coopguard.Topics.Logs+" has no subscription") || !strings.Contains(got, "make deploy") {
		t.Errorf("subscription deleted: Status says %q", got)
	}
}
