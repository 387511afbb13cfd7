package logging

import (
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestExtractor pins the extractor syntax of logs-based metrics that
// log-match alert conditions reuse for their label extractors.
func TestExtractor(t *testing.T) {
	payload, err := structpb.NewStruct(map[string]any{
		"outcome":  "contained",
		"instance": "claude-sandbox",
		"seconds":  12.5,
		"incident": map[string]any{"id": "inc-42", "url": "https://x/incidents/inc-42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &loggingpb.LogEntry{
		LogName: "projects/p/logs/coopguard-incidents",
		Labels:  map[string]string{"incident": "inc-42"},
		Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
	}
	tests := []struct {
		expr, want string
		found      bool
	}{
		{`EXTRACT(jsonPayload.outcome)`, "contained", true},
		{`EXTRACT(labels.incident)`, "inc-42", true},
		{`EXTRACT(jsonPayload.incident.id)`, "inc-42", true},
		{`EXTRACT(jsonPayload.seconds)`, "12.5", true},
		{`REGEXP_EXTRACT(jsonPayload.incident.url, "incidents/(.+)$")`, "inc-42", true},
		{`REGEXP_EXTRACT(jsonPayload.outcome, "^(x+)$")`, "", false},
		{`EXTRACT(jsonPayload.missing)`, "", false},
	}
	for _, tt := range tests {
		x, err := ParseExtractor(tt.expr)
		if err != nil {
			t.Errorf("ParseExtractor(%s): %v", tt.expr, err)
			continue
		}
		got, found := x.Extract(e)
		if got != tt.want || found != tt.found {
			t.Errorf("%s = %q, %v; want %q, %v", tt.expr, got, found, tt.want, tt.found)
		}
	}
	for _, bad := range []string{
		``,
		`jsonPayload.outcome`,
		`extract(jsonPayload.outcome)`,
		`EXTRACT(thud)`,
		`EXTRACT(jsonPayload.a, jsonPayload.b)`,
		`REGEXP_EXTRACT(jsonPayload.outcome, "no group")`,
		`REGEXP_EXTRACT(jsonPayload.outcome, "(two)(groups)")`,
		`REGEXP_EXTRACT(jsonPayload.outcome, "(unclosed")`,
	} {
		if _, err := ParseExtractor(bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("ParseExtractor(%q) = %v, want INVALID_ARGUMENT", bad, err)
		}
	}
}
