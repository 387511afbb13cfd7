package detect

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/cloudcoop/coopguard/shared/events"
)

// entryValue renders a log entry as the CEL variable entry. Keys are present
// only when the entry has the field, so that has() tells absent from empty.
// JSON numbers become int (when integral) or double, so that
// entry.protoPayload.status.code == 7 works as written.
func entryValue(e events.LogEntry) map[string]any {
	m := make(map[string]any, 10)
	m["insertId"] = e.InsertID
	m["logName"] = e.LogName
	if e.Severity != "" {
		m["severity"] = e.Severity
	}
	if !e.Timestamp.IsZero() {
		m["timestamp"] = e.Timestamp
	}
	if !e.ReceiveTimestamp.IsZero() {
		m["receiveTimestamp"] = e.ReceiveTimestamp
	}
	if e.Resource.Type != "" || e.Resource.Labels != nil {
		m["resource"] = map[string]any{"type": e.Resource.Type, "labels": stringMap(e.Resource.Labels)}
	}
	if e.Labels != nil {
		m["labels"] = stringMap(e.Labels)
	}
	if e.ProtoPayload != nil {
		m["protoPayload"] = celJSON(e.ProtoPayload)
	}
	if e.JSONPayload != nil {
		m["jsonPayload"] = celJSON(e.JSONPayload)
	}
	if e.TextPayload != "" {
		m["textPayload"] = e.TextPayload
	}
	return m
}

// stringMap keeps a nil label map a map, so rules can index it safely.
func stringMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// celJSON converts decoded JSON into values CEL adapts natively.
func celJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = celJSON(v)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = celJSON(v)
		}
		return out
	case json.Number:
		if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return n
		}
		f, _ := strconv.ParseFloat(x.String(), 64) // ±Inf when out of range, still a double
		return f
	default:
		return v
	}
}

// sandboxValue renders a Sandbox as the CEL variable sandbox; secrets is
// never null and serviceAccount is lower-cased (emails compare
// case-insensitively; rules lower the entry's side only when needed).
func sandboxValue(sb Sandbox) map[string]any {
	return map[string]any{
		"project":        sb.Project,
		"serviceAccount": strings.ToLower(sb.ServiceAccount),
		"network":        sb.Network,
		"instanceName":   sb.InstanceName,
		"secrets":        nonNil(sb.Secrets),
		"canaries":       nonNil(sb.Canaries),
		"resources":      nonNil(sb.Resources),
		"pipeline":       nonNil(sb.Pipeline),
		"alerting":       nonNil(sb.Alerting),
		"copyOf":         sb.CopyOf,
	}
}

// nonNil returns s, or an empty list for nil: CEL's in needs a list.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
