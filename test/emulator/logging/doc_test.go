package logging

import (
	"math"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/genproto/googleapis/cloud/audit"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// docCorpus are entries with every kind of value a LogEntry can hold:
// an audit entry with Structs, lists, 64-bit integers and nested Anys, a
// JSON payload with every Value kind, a text payload with an HTTP request,
// an unknown severity, timestamps of each precision, and Anys of
// well-known types. fallback names those directDoc leaves to the JSON way.
func docCorpus(tb testing.TB) (entries []*loggingpb.LogEntry, fallback map[int]bool) {
	tb.Helper()
	mustAny := func(m proto.Message) *anypb.Any {
		a, err := anypb.New(m)
		if err != nil {
			tb.Fatal(err)
		}
		return a
	}
	mustStruct := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	at := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	request := mustStruct(map[string]any{
		"@type": "type.googleapis.com/compute.instances.setMetadata", "name": "vm", "n": 3.5, "big": 1e300,
		"ok": true, "none": nil, "items": []any{"a", 1.0, []any{}, map[string]any{}}, "nested": map[string]any{"k": "v"},
	})
	audited := &audit.AuditLog{
		ServiceName: "compute.googleapis.com", MethodName: "v1.compute.instances.setMetadata",
		ResourceName:       "projects/p/zones/us-central1-a/instances/vm",
		AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: "agent@p.iam.gserviceaccount.com"},
		AuthorizationInfo:  []*audit.AuthorizationInfo{{Resource: "projects/p", Permission: "compute.instances.setMetadata", Granted: true}, {Permission: "x"}},
		RequestMetadata:    &audit.RequestMetadata{CallerIp: "10.1.2.3", CallerSuppliedUserAgent: "curl"},
		Request:            request,
		Response:           mustStruct(map[string]any{}),
		Status:             &spb.Status{Code: 7, Message: "denied", Details: []*anypb.Any{mustAny(durationpb.New(1500 * time.Millisecond)), mustAny(&emptypb.Empty{})}},
		Metadata:           mustStruct(map[string]any{"k": "v"}),
		NumResponseItems:   -42,
	}
	withTime := func(e *loggingpb.LogEntry, d time.Duration) *loggingpb.LogEntry {
		e.Timestamp, e.ReceiveTimestamp = timestamppb.New(at.Add(d)), timestamppb.New(at)
		return e
	}
	entries = []*loggingpb.LogEntry{
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/cloudaudit.googleapis.com%2Factivity", InsertId: "a", Severity: ltype.LogSeverity_NOTICE,
			Resource: &monitoredres.MonitoredResource{Type: "gce_instance", Labels: map[string]string{"zone": "us-central1-a"}},
			Payload:  &loggingpb.LogEntry_ProtoPayload{ProtoPayload: mustAny(audited)},
			Labels:   map[string]string{"a.b": "c"}, Operation: &loggingpb.LogEntryOperation{Id: "op", First: true}}, 0),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/app", Severity: ltype.LogSeverity(350),
			Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: mustStruct(map[string]any{
				"n": math.Copysign(0, -1), "tiny": 1e-7, "int": 12345678901234.0, "s": "é", "l": []any{nil, false, "x"}, "o": map[string]any{"p": map[string]any{}}})},
			SourceLocation: &loggingpb.LogEntrySourceLocation{File: "f.go", Line: 9007199254740993, Function: "main"},
			Split:          &loggingpb.LogSplit{Uid: "u", Index: 1, TotalSplits: 3}, TraceSampled: true}, time.Millisecond),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/nat", Severity: ltype.LogSeverity_ERROR,
			Payload:     &loggingpb.LogEntry_TextPayload{TextPayload: "hello\n\"world\""},
			HttpRequest: &ltype.HttpRequest{RequestMethod: "GET", RequestSize: 10, Status: 403, Latency: durationpb.New(-1500 * time.Microsecond), CacheHit: true}}, time.Microsecond),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/wkt", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: mustAny(timestamppb.New(at))}}, time.Nanosecond),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/wkt", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: mustAny(request)}}, 3*time.Second),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/wkt", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: mustAny(mustAny(wrapperspb.Float(0.1)))}}, 0),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/wkt", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: mustAny(wrapperspb.String("data"))}}, 0),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/empty", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: &anypb.Any{}}}, 0),
		// Left to the JSON way: an Any of a type the emulator does not
		// know, a FieldMask, a Value with no kind, a NaN number.
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/x", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: &anypb.Any{TypeUrl: "type.googleapis.com/unknown.Type", Value: []byte{8, 1}}}}, 0),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/x", Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: mustAny(&fieldmaskpb.FieldMask{Paths: []string{"a_b"}})}}, 0),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/x", Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: map[string]*structpb.Value{"k": {}}}}}, 0),
		withTime(&loggingpb.LogEntry{LogName: "projects/p/logs/x", Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: map[string]*structpb.Value{"k": structpb.NewNumberValue(math.NaN())}}}}, 0),
	}
	return entries, map[int]bool{8: true, 9: true, 10: true, 11: true}
}

// TestEntryDocIsTheJSONDoc: the doc built by walking an entry is the one
// its JSON decodes to, for every kind of value; what the walk leaves to
// the JSON way gets the JSON way's doc.
func TestEntryDocIsTheJSONDoc(t *testing.T) {
	entries, fallback := docCorpus(t)
	for i, e := range entries {
		want := jsonDoc(e)
		got, ok := directDoc(e)
		if ok == fallback[i] {
			t.Errorf("entry %d (%s): directDoc ok = %v, want %v", i, e.GetLogName(), ok, !fallback[i])
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Errorf("entry %d (%s): directDoc\n%#v\nwant the JSON doc\n%#v", i, e.GetLogName(), got, want)
		}
		if d := entryDoc(e); !reflect.DeepEqual(d, want) {
			t.Errorf("entry %d (%s): entryDoc\n%#v\nwant the JSON doc\n%#v", i, e.GetLogName(), d, want)
		}
	}
}

// FuzzEntryDoc: for any LogEntry (decoded from the fuzzer's bytes), the
// doc built by walking it is the one its JSON decodes to.
func FuzzEntryDoc(f *testing.F) {
	entries, _ := docCorpus(f)
	for _, e := range entries {
		b, err := proto.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e loggingpb.LogEntry
		if proto.Unmarshal(b, &e) != nil {
			return
		}
		if got, ok := directDoc(&e); ok {
			if want := jsonDoc(&e); !reflect.DeepEqual(got, want) {
				t.Errorf("directDoc\n%#v\nwant the JSON doc\n%#v", got, want)
			}
		}
	})
}

// BenchmarkEntryDoc compares the walk with the JSON way on the corpus's
// audit entry.
func BenchmarkEntryDoc(b *testing.B) {
	entries, _ := docCorpus(b)
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			directDoc(entries[0])
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			jsonDoc(entries[0])
		}
	})
}
