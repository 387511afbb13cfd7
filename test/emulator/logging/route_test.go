package logging_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/genproto/googleapis/cloud/audit"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// TestSinkRouting: every entry, written or generated, goes through each
// enabled sink of its project whose filter matches and no exclusion
// matches, to its Pub/Sub topic as LogEntry JSON with the timestamp
// attribute — if the writer identity may publish there.
func TestSinkRouting(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	ps := pstest.NewServer()
	t.Cleanup(func() { _ = ps.Close() })
	for _, topic := range []string{"projects/p/topics/logs", "projects/p/topics/denied", "projects/q/topics/logs"} {
		if _, err := ps.GServer.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
			t.Fatal(err)
		}
	}
	e.fake.SetPublisher(func(ctx context.Context, topic string, data []byte, attrs map[string]string) error {
		_, err := ps.GServer.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic, Messages: []*pubsubpb.PubsubMessage{{Data: data, Attributes: attrs}}})
		return err
	})
	writer := fmt.Sprintf("serviceAccount:service-%d@gcp-sa-logging.iam.gserviceaccount.com", resourcemanager.ProjectNumber("p"))
	var mu sync.Mutex
	var asked []string
	e.fake.SetAuthorizer(func(_ context.Context, principal, permission, resource string) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, principal+" "+permission+" "+resource)
		return resource != "projects/p/topics/denied"
	})

	iamFilter := `logName="projects/p/logs/cloudaudit.googleapis.com%2Factivity" AND protoPayload.methodName="SetIamPolicy"`
	sinks := []struct {
		parent string
		sink   *loggingpb.LogSink
	}{
		{"projects/p", &loggingpb.LogSink{Name: "iam", Destination: "pubsub.googleapis.com/projects/p/topics/logs", Filter: iamFilter}},
		{"projects/p", &loggingpb.LogSink{Name: "off", Destination: "pubsub.googleapis.com/projects/p/topics/logs", Filter: iamFilter, Disabled: true}},
		{"projects/p", &loggingpb.LogSink{Name: "denied", Destination: "pubsub.googleapis.com/projects/p/topics/denied", Filter: iamFilter}},
		{"projects/p", &loggingpb.LogSink{Name: "no-topic", Destination: "pubsub.googleapis.com/projects/p/topics/gone", Filter: iamFilter}},
		{"projects/p", &loggingpb.LogSink{Name: "all-but-debug", Destination: "pubsub.googleapis.com/projects/p/topics/logs",
			Exclusions: []*loggingpb.LogExclusion{{Name: "debug", Filter: "severity=DEBUG"}, {Name: "off", Filter: "severity>=DEFAULT", Disabled: true}}}},
		{"projects/q", &loggingpb.LogSink{Name: "other-project", Destination: "pubsub.googleapis.com/projects/q/topics/logs"}},
	}
	for _, s := range sinks {
		if _, err := e.config.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: s.parent, Sink: s.sink, UniqueWriterIdentity: true}); err != nil {
			t.Fatal(err)
		}
	}

	// A caller writes a debug line and an entry the IAM sink wants; the
	// emulated GCP itself appends the audit entry of a SetIamPolicy call.
	debug := &loggingpb.LogEntry{LogName: "projects/p/logs/app", Resource: gce(), Severity: ltype.LogSeverity_DEBUG, Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "noise"}}
	info := &loggingpb.LogEntry{LogName: "projects/p/logs/app", Resource: gce(), Severity: ltype.LogSeverity_INFO, Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "hello"}}
	if _, err := e.logs.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{Entries: []*loggingpb.LogEntry{debug, info}}); err != nil {
		t.Fatal(err)
	}
	generated := auditEntry(t, "projects/p/logs/cloudaudit.googleapis.com%2Factivity", "gen-1", ltype.LogSeverity_NOTICE, t0.Add(-time.Second), &audit.AuditLog{
		ServiceName: "cloudresourcemanager.googleapis.com", MethodName: "SetIamPolicy", ResourceName: "projects/p",
		AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: "agent@p.iam.gserviceaccount.com"},
	})
	generated.Resource = gce()
	e.fake.Append(ctx, generated)

	stats := map[string]struct{ routed, excluded, dropped int }{
		"iam":           {1, 0, 0},
		"off":           {0, 0, 0},
		"denied":        {0, 0, 1},
		"no-topic":      {0, 0, 1},
		"all-but-debug": {2, 1, 0},
	}
	for name, want := range stats {
		got := e.fake.Stats("projects/p/sinks/" + name)
		if got.Routed != want.routed || got.Excluded != want.excluded || got.Dropped != want.dropped {
			t.Errorf("sink %s: %+v, want routed %d excluded %d dropped %d", name, got, want.routed, want.excluded, want.dropped)
		}
	}
	if got := e.fake.Stats("projects/q/sinks/other-project"); got.Routed != 0 {
		t.Errorf("a sink of project q routed p's entries: %+v", got)
	}
	if got := e.fake.Stats("projects/p/sinks/denied").LastError; !strings.Contains(got, writer) {
		t.Errorf("denied sink's error %q does not name the writer identity %s", got, writer)
	}

	// What reached the topic is the stored entry, as LogEntry JSON.
	var onLogs []*loggingpb.LogEntry
	for _, m := range ps.Messages() {
		le := &loggingpb.LogEntry{}
		if err := protojson.Unmarshal(m.Data, le); err != nil {
			t.Fatalf("message data is not LogEntry JSON: %v\n%s", err, m.Data)
		}
		if want := le.GetTimestamp().AsTime().Format(time.RFC3339Nano); m.Attributes["logging.googleapis.com/timestamp"] != want {
			t.Errorf("timestamp attribute = %q, want %q", m.Attributes["logging.googleapis.com/timestamp"], want)
		}
		onLogs = append(onLogs, le)
	}
	if len(onLogs) != 3 {
		t.Fatalf("%d messages published, want 3 (iam: 1, all-but-debug: 2)", len(onLogs))
	}
	stored := e.fake.Entries("projects/p/logs/cloudaudit.googleapis.com%2Factivity")
	if len(stored) != 1 {
		t.Fatalf("generated entry not stored: %v", stored)
	}
	found := false
	for _, le := range onLogs {
		found = found || proto.Equal(le, stored[0])
	}
	if !found {
		t.Errorf("the published audit entry differs from the stored one %v", stored[0])
	}
	if !stored[0].GetReceiveTimestamp().AsTime().Equal(t0) {
		t.Errorf("generated entry receiveTimestamp = %v, want the emulator clock %v", stored[0].GetReceiveTimestamp().AsTime(), t0)
	}

	mu.Lock()
	sort.Strings(asked)
	mu.Unlock()
	want := writer + " pubsub.topics.publish projects/p/topics/denied"
	if len(asked) == 0 || !contains(asked, want) {
		t.Errorf("authorizer asked %v, want %q among them", asked, want)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestSinkRoutingDefaults: without an authorizer every writer may
// publish; without a publisher nothing is delivered and the drop is
// counted.
func TestSinkRoutingDefaults(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	if _, err := e.config.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: "projects/p", Sink: &loggingpb.LogSink{Name: "s", Destination: "pubsub.googleapis.com/projects/p/topics/t"}}); err != nil {
		t.Fatal(err)
	}
	entry := &loggingpb.LogEntry{LogName: "projects/p/logs/app", Resource: gce(), Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "x"}}
	e.fake.Append(ctx, entry)
	if got := e.fake.Stats("projects/p/sinks/s"); got.Dropped != 1 || got.Routed != 0 {
		t.Errorf("no publisher: %+v, want one drop", got)
	}
	var published int
	e.fake.SetPublisher(func(context.Context, string, []byte, map[string]string) error { published++; return nil })
	e.fake.Append(ctx, entry, &loggingpb.LogEntry{LogName: "bad"})
	if got := e.fake.Stats("projects/p/sinks/s"); got.Routed != 1 || published != 1 {
		t.Errorf("no authorizer: %+v, %d published, want one routed (the invalid entry skipped)", got, published)
	}
}
