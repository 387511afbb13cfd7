package logging

import (
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/types/known/structpb"
)

// FuzzParseFilter: any query either parses or is refused, never panics,
// and a parsed query evaluates over an entry.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`logName:"cloudaudit.googleapis.com" AND (protoPayload.methodName=~"(?i)setiampolicy" OR protoPayload.status.code=7)`,
		`"a" OR NOT "b" AND NOT "c" OR "d"`,
		`-textPayload:robot severity>=ERROR`,
		`resource.type=("gce_instance" OR "global")`,
		`labels."a.b"="c" jsonPayload.n>-5 timestamp>="2024-01-01T00:00:00Z"`,
		`log_id("cloudaudit.googleapis.com/activity") ip_in_net(httpRequest.remoteIp, "10.0.0.0/8") sample(insertId, 0.5)`,
		"x -- comment\n(y)",
		`jsonPayload.tags:* NOT jsonPayload.x!~"^a"`,
	} {
		f.Add(s)
	}
	payload, _ := structpb.NewStruct(map[string]any{"n": 3, "tags": []any{"a", "b"}, "o": map[string]any{"k": "v"}})
	d := entryDoc(&loggingpb.LogEntry{
		LogName:  "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
		Severity: ltype.LogSeverity_ERROR,
		Labels:   map[string]string{"a.b": "c"},
		Payload:  &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
	})
	f.Fuzz(func(t *testing.T, q string) {
		flt, err := ParseFilter(q)
		if err != nil {
			return
		}
		flt.Match(d)
	})
}
