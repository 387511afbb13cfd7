package logging_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/genproto/googleapis/cloud/audit"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// auditEntry is a Cloud Audit Logs entry as GCP writes one.
func auditEntry(t *testing.T, log, insertID string, sev ltype.LogSeverity, at time.Time, a *audit.AuditLog) *loggingpb.LogEntry {
	t.Helper()
	p, err := anypb.New(a)
	if err != nil {
		t.Fatal(err)
	}
	return &loggingpb.LogEntry{LogName: log, InsertId: insertID, Severity: sev, Timestamp: timestamppb.New(at), Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: p}}
}

// filterCorpus writes four entries to project p: an Admin Activity audit
// entry (denied firewall delete), a Data Access one (secret read), an
// application's JSON entry and a text entry under a look-alike log name.
func filterCorpus(t *testing.T, e env) {
	t.Helper()
	activity := auditEntry(t, "projects/p/logs/cloudaudit.googleapis.com%2Factivity", "activity", ltype.LogSeverity_NOTICE, t0.Add(1*time.Minute), &audit.AuditLog{
		ServiceName:        "compute.googleapis.com",
		MethodName:         "v1.compute.firewalls.delete",
		ResourceName:       "projects/p/global/firewalls/deny-ingress",
		AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: "agent@p.iam.gserviceaccount.com"},
		AuthorizationInfo:  []*audit.AuthorizationInfo{{Permission: "compute.firewalls.delete"}, {Permission: "compute.networks.updatePolicy"}},
		RequestMetadata:    &audit.RequestMetadata{CallerIp: "10.1.2.3"},
		Status:             &spb.Status{Code: 7, Message: "PERMISSION_DENIED"},
	})
	activity.Resource = &monitoredres.MonitoredResource{Type: "gce_firewall_rule", Labels: map[string]string{"project_id": "p", "zone": "global"}}
	activity.Labels = map[string]string{"compute.googleapis.com/root_trigger_id": "abc"}
	data := auditEntry(t, "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access", "data", ltype.LogSeverity_INFO, t0.Add(2*time.Minute), &audit.AuditLog{
		ServiceName:        "secretmanager.googleapis.com",
		MethodName:         "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
		ResourceName:       "projects/123/secrets/key/versions/1",
		AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: "ops@example.com"},
	})
	data.Resource = &monitoredres.MonitoredResource{Type: "audited_resource", Labels: map[string]string{"service": "secretmanager.googleapis.com"}}
	app := jsonEntry(t, ltype.LogSeverity_ERROR, t0.Add(3*time.Minute), map[string]any{
		"message": "The cat in the hat", "count": 12, "tags": []any{"red", "blue"}, "nested": map[string]any{"ok": true},
	})
	app.LogName, app.InsertId = "projects/p/logs/app", "json"
	app.Resource = gce()
	app.Labels = map[string]string{"env": "prod"}
	app.HttpRequest = &ltype.HttpRequest{Status: 503, Latency: durationpb.New(1500 * time.Millisecond), RemoteIp: "192.168.1.7"}
	text := &loggingpb.LogEntry{LogName: "projects/p/logs/cloudaudit.googleapis.com-fake", InsertId: "text", Timestamp: timestamppb.New(t0.Add(4 * time.Minute)),
		Resource: gce(), Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "robot says hello"}}
	for _, le := range []*loggingpb.LogEntry{activity, data, app, text} {
		if le.Resource == nil {
			le.Resource = gce()
		}
		if _, err := writeEntries(context.Background(), e, &loggingpb.WriteLogEntriesRequest{Entries: []*loggingpb.LogEntry{le}}); err != nil {
			t.Fatal(err)
		}
	}
}

// list returns the insert ids entries.list answers for filter, or the
// error.
func list(e env, filter string) ([]string, error) {
	var got []string
	it := e.logs.ListLogEntries(context.Background(), &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/p"}, Filter: filter})
	for {
		le, err := it.Next()
		if err == iterator.Done {
			return got, nil
		}
		if err != nil {
			return nil, err
		}
		got = append(got, le.GetInsertId())
	}
}

// TestQueryLanguage pins the Logging query language, read through
// entries.list with the official client.
func TestQueryLanguage(t *testing.T) {
	e := start(t, t0.Add(time.Hour))
	filterCorpus(t, e)
	ts := func(d time.Duration) string { return `"` + t0.Add(d).Format(time.RFC3339) + `"` }
	all := "activity data json text"
	tests := []struct {
		name, filter, want string
	}{
		{"empty query", "", all},
		{"comment only", "-- nothing", all},
		// "a OR NOT b AND NOT c OR d" means (a OR NOT b) AND (NOT c OR d):
		// OR binds tighter than AND.
		{"OR binds tighter than AND", `severity>=ERROR OR textPayload:robot AND logName:"cloudaudit"`, "text"},
		{"NOT binds tightest", `NOT severity>=ERROR OR textPayload:robot`, "activity data text"},
		{"minus is NOT", `-textPayload:robot`, "activity data json"},
		{"implicit AND", `logName:"cloudaudit" severity<=INFO`, "data text"},
		{"parentheses", `(severity>=ERROR OR textPayload:robot) AND (logName:"app" OR insertId="activity")`, "json"},
		{"equality ignores case", `protoPayload.authenticationInfo.principalEmail="Agent@P.iam.gserviceaccount.com"`, "activity"},
		{"regexp is case-sensitive", `protoPayload.methodName=~"Firewalls"`, ""},
		{"regexp", `protoPayload.methodName=~"firewalls\\.delete$"`, "activity"},
		{"regexp (?i)", `protoPayload.methodName=~"(?i)FIREWALLS"`, "activity"},
		{"negated regexp skips missing fields", `protoPayload.methodName!~"firewalls"`, "data"},
		{"has is a substring", `protoPayload.resourceName:"SECRETS/key"`, "data"},
		{"presence", `protoPayload.status:*`, "activity"},
		{"absence", `NOT protoPayload.status:*`, "data json text"},
		{"missing field fails !=", `jsonPayload.nothere!="x"`, ""},
		{"NOT of a missing field", `NOT jsonPayload.nothere="x"`, all},
		{"defaulted field compares as zero", `trace=""`, all},
		{"defaulted field is not present", `trace:*`, ""},
		{"defaulted number", `httpRequest.status<500`, "activity data text"},
		{"number", `httpRequest.status>=500`, "json"},
		{"numbers compare as numbers", `jsonPayload.count>9`, "json"},
		{"audit status code", `protoPayload.status.code=7`, "activity"},
		{"any array element", `jsonPayload.tags="BLUE"`, "json"},
		{"repeated message field", `protoPayload.authorizationInfo.permission="compute.networks.updatePolicy"`, "activity"},
		{"quoted label key", `labels."compute.googleapis.com/root_trigger_id"="abc"`, "activity"},
		{"resource label", `resource.labels.zone="global"`, "activity"},
		{"resource type list", `resource.type=("gce_firewall_rule" OR "audited_resource")`, "activity data"},
		{"severity order", `severity>=ERROR`, "json"},
		{"severity number", `severity>=400`, "json"},
		{"severity default", `severity=DEFAULT`, "text"},
		{"severity list", `severity=(NOTICE OR error)`, "activity json"},
		{"timestamp window", `timestamp>=` + ts(2*time.Minute) + ` AND timestamp<` + ts(4*time.Minute), "data json"},
		{"boolean", `jsonPayload.nested.ok=true`, "json"},
		{"duration", `httpRequest.latency>"1s"`, "json"},
		{"global restriction", `"cat in the hat"`, "json"},
		{"global restriction ignores case", `HELLO`, "text"},
		{"global restrictions joined", `robot hello`, "text"},
		{"global restrictions OR", `robot OR cat`, "json text"},
		{"lower-case and is a word", `severity>=ERROR and`, ""},
		{"exact log name", `logName="projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"`, "data"},
		{"log name has matches look-alikes", `logName:"cloudaudit.googleapis.com"`, "activity data text"},
		{"log_id", `log_id("cloudaudit.googleapis.com/activity")`, "activity"},
		{"ip_in_net", `ip_in_net(httpRequest.remoteIp, "192.168.0.0/16") OR ip_in_net(protoPayload.requestMetadata.callerIp, "10.0.0.0/8")`, "activity json"},
		{"sample all", `sample(insertId, 1)`, all},
		{"sample none", `sample(insertId, 0)`, ""},
		{"comment", "severity>=ERROR -- only errors\n", "json"},
		{"proto field names", `http_request.status>=500`, "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(time.Minute) // a fresh entries.list quota
			got, err := list(e, tt.filter)
			if err != nil {
				t.Fatalf("%s: %v", tt.filter, err)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("%s: got %q, want %q", tt.filter, strings.Join(got, " "), tt.want)
			}
		})
	}
}

// TestQueryLanguageInvalid: what the language does not define is
// INVALID_ARGUMENT, in entries.list and in sinks.
func TestQueryLanguageInvalid(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	bad := []string{
		`thud="x"`,
		`textPayload.thud="x"`,
		`labels.a.b="x"`,
		`severity>=LOUD`,
		`timestamp>="yesterday"`,
		`httpRequest.status="abc"`,
		`jsonPayload="x"`,
		`protoPayload.methodName=~"("`,
		`(severity>=ERROR`,
		`severity>=ERROR)`,
		`AND severity>=ERROR`,
		`severity>=ERROR OR`,
		`NOT`,
		`severity ! ERROR`,
		`"unterminated`,
		`jsonPayload.count=`,
		`"quoted"="field"`,
		`SEARCH("x")`,
		`log_id()`,
		`ip_in_net(httpRequest.remoteIp, "not a net")`,
		strings.Repeat("(", 100) + "x" + strings.Repeat(")", 100),
		strings.Repeat("x ", 10001),
	}
	for _, f := range bad {
		t.Run(f[:min(len(f), 30)], func(t *testing.T) {
			e.clock.Advance(time.Minute)
			_, err := list(e, f)
			grpctest.WantCode(t, err, codes.InvalidArgument)
			_, err = e.config.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: "projects/p", Sink: &loggingpb.LogSink{Name: "s", Destination: "pubsub.googleapis.com/projects/p/topics/t", Filter: f}})
			grpctest.WantCode(t, err, codes.InvalidArgument)
		})
	}
	if _, err := e.config.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: "projects/p", Sink: &loggingpb.LogSink{Name: "s", Destination: "pubsub.googleapis.com/projects/p/topics/t", Filter: "severity>=ERROR"}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.config.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: "projects/p/sinks/s", Sink: &loggingpb.LogSink{Filter: "severity>=ERROR OR"}})
	grpctest.WantCode(t, err, codes.InvalidArgument)
	_, err = e.config.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: "projects/p/sinks/s", Sink: &loggingpb.LogSink{Exclusions: []*loggingpb.LogExclusion{{Name: "x", Filter: "thud=1"}}}})
	grpctest.WantCode(t, err, codes.InvalidArgument)
}
