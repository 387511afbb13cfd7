package logging_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"cloud.google.com/go/logging"
	logapi "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/logging/logadmin"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	fake "github.com/cloudcoop/coopguard/test/emulator/logging"
)

type env struct {
	fake   *fake.Server
	logs   *logapi.Client
	config *logapi.ConfigClient
	opts   []option.ClientOption
	clock  *emulator.Clock
}

func start(t *testing.T, at time.Time) env {
	t.Helper()
	clk := emulator.FrozenClock(at)
	f := fake.New(clk.Now)
	opts := grpctest.Serve(t, f.Register)
	return env{fake: f, logs: grpctest.Client(t, opts, logapi.NewClient), config: grpctest.Client(t, opts, logapi.NewConfigClient), opts: opts, clock: clk}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func gce() *monitoredres.MonitoredResource {
	return &monitoredres.MonitoredResource{Type: "gce_instance", Labels: map[string]string{"instance_id": "42"}}
}

func jsonEntry(t *testing.T, sev ltype.LogSeverity, at time.Time, fields map[string]any) *loggingpb.LogEntry {
	t.Helper()
	st, err := structpb.NewStruct(fields)
	if err != nil {
		t.Fatal(err)
	}
	e := &loggingpb.LogEntry{Severity: sev, Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: st}}
	if !at.IsZero() {
		e.Timestamp = timestamppb.New(at)
	}
	return e
}

func TestWriteLogEntries(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	_, err := e.logs.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{
		LogName:  "projects/p/logs/coopguard-incidents",
		Resource: gce(),
		Labels:   map[string]string{"sandbox": "s1", "env": "test"},
		Entries: []*loggingpb.LogEntry{
			jsonEntry(t, ltype.LogSeverity_ERROR, time.Time{}, map[string]any{"rule": "secret-access"}),
			{LogName: "projects/p/logs/other", Labels: map[string]string{"env": "prod"}, Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "hi"}, InsertId: "mine"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	inc := e.fake.Entries("projects/p/logs/coopguard-incidents")
	if len(inc) != 1 {
		t.Fatalf("incidents = %v", inc)
	}
	got := inc[0]
	if got.Resource.GetType() != "gce_instance" || got.Labels["sandbox"] != "s1" || !got.Timestamp.AsTime().Equal(t0) || !got.ReceiveTimestamp.AsTime().Equal(t0) || got.InsertId == "" {
		t.Errorf("defaults not applied: %v", got)
	}
	other := e.fake.Entries("projects/p/logs/other")
	if len(other) != 1 || other[0].Labels["env"] != "prod" || other[0].Labels["sandbox"] != "s1" || other[0].InsertId != "mine" {
		t.Errorf("entry labels must win over request labels, insert id kept: %v", other)
	}

	errs := []struct {
		name    string
		req     *loggingpb.WriteLogEntriesRequest
		written int
	}{
		{"no entries", &loggingpb.WriteLogEntriesRequest{LogName: "projects/p/logs/x", Resource: gce()}, 0},
		{"bad log name", &loggingpb.WriteLogEntriesRequest{LogName: "p/logs/x", Resource: gce(), Entries: []*loggingpb.LogEntry{{}}}, 0},
		{"no resource", &loggingpb.WriteLogEntriesRequest{LogName: "projects/p/logs/x", Entries: []*loggingpb.LogEntry{{}}}, 0},
		{"one bad entry", &loggingpb.WriteLogEntriesRequest{Resource: gce(), Entries: []*loggingpb.LogEntry{{LogName: "projects/p/logs/x"}, {}}}, 0},
		{"partial success", &loggingpb.WriteLogEntriesRequest{Resource: gce(), PartialSuccess: true, Entries: []*loggingpb.LogEntry{{LogName: "projects/p/logs/x"}, {}}}, 1},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.fake.Entries("projects/p/logs/x"))
			_, err := e.logs.WriteLogEntries(ctx, tt.req)
			grpctest.WantCode(t, err, codes.InvalidArgument)
			if n := len(e.fake.Entries("projects/p/logs/x")) - before; n != tt.written {
				t.Errorf("wrote %d entries, want %d", n, tt.written)
			}
			if len(tt.req.Entries) == 2 {
				var partial *loggingpb.WriteLogEntriesPartialErrors
				for _, d := range status.Convert(err).Details() {
					if p, ok := d.(*loggingpb.WriteLogEntriesPartialErrors); ok {
						partial = p
					}
				}
				if partial == nil || partial.LogEntryErrors[1] == nil || len(partial.LogEntryErrors) != 1 {
					t.Errorf("details = %v, want entry 1 reported", partial)
				}
			}
		})
	}

	_, err = e.logs.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{LogName: "projects/p/logs/dry", Resource: gce(), DryRun: true, Entries: []*loggingpb.LogEntry{{}}})
	if err != nil || len(e.fake.Entries("projects/p/logs/dry")) != 0 {
		t.Errorf("dry run: err %v, entries %v", err, e.fake.Entries("projects/p/logs/dry"))
	}
	if n := len(e.fake.AllEntries()); n != 3 {
		t.Errorf("AllEntries has %d entries, want 3", n)
	}
	if err := e.logs.DeleteLog(ctx, &loggingpb.DeleteLogRequest{LogName: "projects/p/logs/x"}); err != nil {
		t.Fatal(err)
	}
	grpctest.WantCode(t, e.logs.DeleteLog(ctx, &loggingpb.DeleteLogRequest{LogName: "projects/p/logs/x"}), codes.NotFound)
}

func TestListLogEntries(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	write := func(log string, res *monitoredres.MonitoredResource, es ...*loggingpb.LogEntry) {
		t.Helper()
		if _, err := writeEntries(ctx, e, &loggingpb.WriteLogEntriesRequest{LogName: log, Resource: res, Entries: es}); err != nil {
			t.Fatal(err)
		}
	}
	audit := "projects/p/logs/cloudaudit.googleapis.com%2Factivity"
	write(audit, gce(),
		jsonEntry(t, ltype.LogSeverity_NOTICE, t0.Add(2*time.Minute), map[string]any{"method": "SetIamPolicy", "actor": map[string]any{"email": "agent@p.iam"}}),
		jsonEntry(t, ltype.LogSeverity_INFO, t0.Add(1*time.Minute), map[string]any{"method": "Get"}),
	)
	incidents := &loggingpb.LogEntry{Severity: ltype.LogSeverity_ERROR, Labels: map[string]string{"rule": "egress"}, Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "egress spike"}}
	write("projects/p/logs/coopguard-incidents", &monitoredres.MonitoredResource{Type: "global"}, incidents)
	write("projects/q/logs/coopguard-incidents", &monitoredres.MonitoredResource{Type: "global"}, &loggingpb.LogEntry{})

	tests := []struct {
		name    string
		filter  string
		orderBy string
		want    []string // text or json method, in order
		code    codes.Code
	}{
		{"all asc", "", "", []string{"egress spike", "Get", "SetIamPolicy"}, codes.OK},
		{"all desc", "", "timestamp desc", []string{"SetIamPolicy", "Get", "egress spike"}, codes.OK},
		{"log name", `logName="` + audit + `"`, "", []string{"Get", "SetIamPolicy"}, codes.OK},
		{"resource type", `resource.type="global"`, "", []string{"egress spike"}, codes.OK},
		{"resource label", `resource.labels.instance_id="42"`, "", []string{"Get", "SetIamPolicy"}, codes.OK},
		{"time window", `timestamp>="` + t0.Add(30*time.Second).Format(time.RFC3339) + `" AND timestamp<="` + t0.Add(90*time.Second).Format(time.RFC3339) + `"`, "", []string{"Get"}, codes.OK},
		{"severity", `severity>=NOTICE`, "", []string{"egress spike", "SetIamPolicy"}, codes.OK},
		{"label", `labels.rule="egress"`, "", []string{"egress spike"}, codes.OK},
		{"json field", `jsonPayload.method="SetIamPolicy"`, "", []string{"SetIamPolicy"}, codes.OK},
		{"nested json", `jsonPayload.actor.email="agent@p.iam"`, "", []string{"SetIamPolicy"}, codes.OK},
		{"implicit and", "severity>=INFO\nresource.type=\"gce_instance\" jsonPayload.method:\"Iam\"", "", []string{"SetIamPolicy"}, codes.OK},
		{"text has", `textPayload:"spike"`, "", []string{"egress spike"}, codes.OK},
		{"or", `severity=ERROR OR severity=INFO`, "", []string{"egress spike", "Get"}, codes.OK},
		{"unknown field", `thud="x"`, "", nil, codes.InvalidArgument},
		{"bad timestamp", `timestamp>="yesterday"`, "", nil, codes.InvalidArgument},
		{"bad order", "", "severity desc", nil, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(time.Minute) // a fresh entries.list quota
			var got []string
			it := e.logs.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/p"}, Filter: tt.filter, OrderBy: tt.orderBy, PageSize: 1})
			for {
				le, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					grpctest.WantCode(t, err, tt.code)
					return
				}
				if m := le.GetJsonPayload().GetFields()["method"]; m != nil {
					got = append(got, m.GetStringValue())
				} else {
					got = append(got, le.GetTextPayload())
				}
			}
			grpctest.WantCode(t, nil, tt.code)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	_, err := e.logs.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{}).Next()
	grpctest.WantCode(t, err, codes.InvalidArgument)
	_, err = e.logs.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/p"}, PageToken: "garbage!"}).Next()
	grpctest.WantCode(t, err, codes.InvalidArgument)
}

func TestSinks(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	creates := []struct {
		name   string
		parent string
		sink   *loggingpb.LogSink
		unique bool
		want   codes.Code
		writer string
	}{
		{"unique", "projects/123", &loggingpb.LogSink{Name: "coopguard-audit", Destination: "pubsub.googleapis.com/projects/123/topics/audit", Filter: `logName:"cloudaudit"`}, true, codes.OK,
			"serviceAccount:service-123@gcp-sa-logging.iam.gserviceaccount.com"},
		{"legacy", "projects/123", &loggingpb.LogSink{Name: "old", Destination: "storage.googleapis.com/bucket"}, false, codes.OK, "serviceAccount:cloud-logs@system.gserviceaccount.com"},
		{"organization", "organizations/4567", &loggingpb.LogSink{Name: "org", Destination: "storage.googleapis.com/bucket"}, true, codes.OK,
			"serviceAccount:service-org-4567@gcp-sa-logging.iam.gserviceaccount.com"},
		{"folder, unique identity not asked", "folders/890", &loggingpb.LogSink{Name: "folder", Destination: "storage.googleapis.com/bucket"}, false, codes.OK,
			"serviceAccount:service-folder-890@gcp-sa-logging.iam.gserviceaccount.com"},
		{"exists", "projects/123", &loggingpb.LogSink{Name: "coopguard-audit", Destination: "pubsub.googleapis.com/projects/123/topics/audit"}, true, codes.AlreadyExists, ""},
		{"bad destination", "projects/123", &loggingpb.LogSink{Name: "x", Destination: "mailto:a@b"}, true, codes.InvalidArgument, ""},
		{"bad id", "projects/123", &loggingpb.LogSink{Name: "a/b", Destination: "storage.googleapis.com/b"}, true, codes.InvalidArgument, ""},
		{"bad parent", "project/123", &loggingpb.LogSink{Name: "x", Destination: "storage.googleapis.com/b"}, true, codes.InvalidArgument, ""},
	}
	for _, tt := range creates {
		t.Run("create "+tt.name, func(t *testing.T) {
			got, err := e.config.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: tt.parent, Sink: tt.sink, UniqueWriterIdentity: tt.unique})
			grpctest.WantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if got.WriterIdentity != tt.writer || got.Name != tt.sink.Name || !got.CreateTime.AsTime().Equal(t0) {
				t.Errorf("sink = %v", got)
			}
		})
	}
	got, err := e.config.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: "projects/123/sinks/coopguard-audit"})
	if err != nil || got.Filter != `logName:"cloudaudit"` {
		t.Fatalf("get = %v, %v", got, err)
	}
	_, err = e.config.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: "projects/123/sinks/none"})
	grpctest.WantCode(t, err, codes.NotFound)

	var names []string
	it := e.config.ListSinks(ctx, &loggingpb.ListSinksRequest{Parent: "projects/123", PageSize: 1})
	for {
		s, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, s.Name)
	}
	if len(names) != 2 || names[0] != "coopguard-audit" {
		t.Errorf("ListSinks = %v", names)
	}

	e.clock.Advance(time.Hour)
	updates := []struct {
		name   string
		sink   string
		in     *loggingpb.LogSink
		paths  []string
		unique bool
		want   codes.Code
		check  func(*loggingpb.LogSink) bool
	}{
		{"filter", "coopguard-audit", &loggingpb.LogSink{Filter: "severity>=ERROR"}, []string{"filter"}, true, codes.OK,
			func(s *loggingpb.LogSink) bool { return s.Filter == "severity>=ERROR" && s.Destination != "" }},
		{"unique identity not sent again", "coopguard-audit", &loggingpb.LogSink{Filter: "severity>=INFO"}, []string{"filter"}, false, codes.InvalidArgument, nil},
		{"disable and describe", "coopguard-audit", &loggingpb.LogSink{Disabled: true, Description: "paused"}, []string{"disabled", "description"}, true, codes.OK,
			func(s *loggingpb.LogSink) bool { return s.Disabled && s.Description == "paused" }},
		{"exclusions", "coopguard-audit", &loggingpb.LogSink{Exclusions: []*loggingpb.LogExclusion{{Name: "noisy", Filter: "severity<INFO"}}}, []string{"exclusions"}, true, codes.OK,
			func(s *loggingpb.LogSink) bool { return len(s.Exclusions) == 1 }},
		{"default mask", "coopguard-audit", &loggingpb.LogSink{Destination: "pubsub.googleapis.com/projects/123/topics/new"}, nil, true, codes.OK,
			func(s *loggingpb.LogSink) bool {
				return s.Destination == "pubsub.googleapis.com/projects/123/topics/new" && s.Filter == "" && s.Description == "paused"
			}},
		{"legacy to unique", "old", &loggingpb.LogSink{}, []string{"description"}, true, codes.OK,
			func(s *loggingpb.LogSink) bool {
				return s.WriterIdentity == "serviceAccount:service-123@gcp-sa-logging.iam.gserviceaccount.com"
			}},
		{"unknown path", "old", &loggingpb.LogSink{}, []string{"colour"}, false, codes.InvalidArgument, nil},
		{"missing", "none", &loggingpb.LogSink{}, []string{"filter"}, false, codes.NotFound, nil},
	}
	for _, tt := range updates {
		t.Run("update "+tt.name, func(t *testing.T) {
			req := &loggingpb.UpdateSinkRequest{SinkName: "projects/123/sinks/" + tt.sink, Sink: tt.in, UniqueWriterIdentity: tt.unique}
			if tt.paths != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: tt.paths}
			}
			got, err := e.config.UpdateSink(ctx, req)
			grpctest.WantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if !tt.check(got) || !got.UpdateTime.AsTime().Equal(e.clock.Now()) {
				t.Errorf("sink = %v", got)
			}
		})
	}
	if s := e.fake.Sinks("projects/123"); len(s) != 2 || !s[0].Disabled {
		t.Errorf("Sinks = %v", s)
	}
	if err := e.config.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: "projects/123/sinks/old"}); err != nil {
		t.Fatal(err)
	}
	grpctest.WantCode(t, e.config.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: "projects/123/sinks/old"}), codes.NotFound)
}

// TestHighLevelClients drives the fake through the packages coopguard's
// functions use: logging.Logger writes, logadmin reads and manages sinks.
// The clock sits at the real time because logadmin adds a "last 24 hours"
// timestamp filter from the wall clock.
func TestHighLevelClients(t *testing.T) {
	e := start(t, time.Now().UTC())
	ctx := context.Background()
	lc, err := logging.NewClient(ctx, "projects/p", e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lc.Close() })
	lg := lc.Logger("coopguard-incidents", logging.CommonResource(&monitoredres.MonitoredResource{Type: "global"}), logging.CommonLabels(map[string]string{"sandbox": "s1"}))
	lg.Log(logging.Entry{Severity: logging.Critical, Payload: map[string]any{"playbook": "contain", "vm": "agent-1"}})
	lg.Log(logging.Entry{Severity: logging.Info, Payload: "routine"})
	if err := lg.Flush(); err != nil {
		t.Fatal(err)
	}
	got := e.fake.Entries("projects/p/logs/coopguard-incidents")
	if len(got) != 2 || got[0].Labels["sandbox"] != "s1" {
		t.Fatalf("entries = %v", got)
	}

	admin, err := logadmin.NewClient(ctx, "projects/p", e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	it := admin.Entries(ctx, logadmin.Filter(`logName="projects/p/logs/coopguard-incidents" AND severity>=ERROR`), logadmin.NewestFirst())
	var found []*logging.Entry
	for {
		en, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, en)
	}
	if len(found) != 1 || found[0].Severity != logging.Critical {
		t.Fatalf("logadmin entries = %v", found)
	}
	if p, ok := found[0].Payload.(*structpb.Struct); !ok || p.Fields["playbook"].GetStringValue() != "contain" {
		t.Errorf("payload = %#v", found[0].Payload)
	}

	sink, err := admin.CreateSinkOpt(ctx, &logadmin.Sink{ID: "coopguard", Destination: "pubsub.googleapis.com/projects/p/topics/coopguard-logs", Filter: "severity>=WARNING"}, logadmin.SinkOptions{UniqueWriterIdentity: true})
	if err != nil {
		t.Fatal(err)
	}
	if sink.WriterIdentity == "" {
		t.Error("no writer identity")
	}
	sink.Filter = "severity>=ERROR"
	// UpdateSink sends uniqueWriterIdentity=false, an error on a sink
	// created with a unique identity; UpdateSinkOpt sends it again.
	_, err = admin.UpdateSink(ctx, sink)
	grpctest.WantCode(t, err, codes.InvalidArgument)
	if _, err := admin.UpdateSinkOpt(ctx, sink, logadmin.SinkOptions{UpdateFilter: true, UniqueWriterIdentity: true}); err != nil {
		t.Fatal(err)
	}
	s, err := admin.Sink(ctx, "coopguard")
	if err != nil || s.Filter != "severity>=ERROR" {
		t.Errorf("sink = %v, %v", s, err)
	}
	if err := admin.DeleteSink(ctx, "coopguard"); err != nil {
		t.Fatal(err)
	}
}

// writeEntries writes req as a caller would, except entries under a Cloud
// Audit Logs log name, which only the emulated GCP itself may write: those
// it appends as the gate does.
func writeEntries(ctx context.Context, e env, req *loggingpb.WriteLogEntriesRequest) (*loggingpb.WriteLogEntriesResponse, error) {
	var own []*loggingpb.LogEntry
	for _, le := range req.GetEntries() {
		le = proto.Clone(le).(*loggingpb.LogEntry)
		if le.LogName == "" {
			le.LogName = req.GetLogName()
		}
		if le.Resource == nil {
			le.Resource = req.GetResource()
		}
		if strings.Contains(le.LogName, "/logs/cloudaudit.googleapis.com%2F") {
			e.fake.Append(ctx, le)
			continue
		}
		own = append(own, le)
	}
	if len(own) == 0 {
		return &loggingpb.WriteLogEntriesResponse{}, nil
	}
	return e.logs.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{Entries: own, Labels: req.GetLabels(), PartialSuccess: req.GetPartialSuccess(), DryRun: req.GetDryRun()})
}
