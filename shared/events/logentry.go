package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LogEntry is a Cloud Logging entry as a log sink writes it to Pub/Sub.
type LogEntry struct {
	// InsertID is unique per log and timestamp; handlers use it to make
	// redeliveries harmless.
	InsertID string
	// LogName is the full log name, e.g.
	// "projects/p/logs/cloudaudit.googleapis.com%2Factivity".
	LogName string
	// Resource is the monitored resource that wrote the entry.
	Resource MonitoredResource
	// Timestamp is when the event happened; ReceiveTimestamp when Logging got it.
	Timestamp, ReceiveTimestamp time.Time
	// Severity is the LogSeverity name in upper case ("" when absent; a
	// numeric severity is translated to its name).
	Severity string
	// Labels are the entry's user labels.
	Labels map[string]string
	// ProtoPayload is the protoPayload object as decoded JSON, numbers kept
	// as json.Number; nil when the entry has none. Rules that look beyond
	// the typed audit fields read it.
	ProtoPayload map[string]any
	// Audit holds the audit-log fields of ProtoPayload that coopguard reads;
	// zero when the entry is not an audit log.
	Audit AuditLog
	// JSONPayload is the jsonPayload object (numbers as json.Number), or nil.
	JSONPayload map[string]any
	// TextPayload is the textPayload string, or "".
	TextPayload string
}

// AuditLog is the typed subset of a google.cloud.audit.AuditLog payload.
type AuditLog struct {
	// Type is the payload's "@type".
	Type string
	// MethodName, ServiceName and ResourceName name the call and its target.
	MethodName, ServiceName, ResourceName string
	// PrincipalEmail is authenticationInfo.principalEmail (may be redacted/empty).
	PrincipalEmail string
	// AuthorizationInfo lists the permission checks made for the call.
	AuthorizationInfo []AuthorizationInfo
	// Status is the call's outcome; code 0 (or absent) is OK, 7 is PERMISSION_DENIED.
	Status AuditStatus
	// CallerIP is requestMetadata.callerIp.
	CallerIP string
}

// AuthorizationInfo is one permission check of an audited call.
type AuthorizationInfo struct {
	Resource   string
	Permission string
	Granted    bool
}

// AuditStatus is a google.rpc.Status as recorded in an audit log.
type AuditStatus struct {
	Code    int64
	Message string
}

const formatLogEntry = "log entry"

// DecodeLogEntry decodes one LogEntry as written by a log sink. insertId and
// logName are required; everything else is optional.
func DecodeLogEntry(data []byte) (LogEntry, error) {
	if err := checkSize(formatLogEntry, data); err != nil {
		return LogEntry{}, err
	}
	m, err := decodeTopObject(formatLogEntry, data)
	if err != nil {
		return LogEntry{}, err
	}
	var out LogEntry
	fail := func(field string, err error) (LogEntry, error) {
		return LogEntry{}, undecodable(formatLogEntry, "field %s: %v", field, err)
	}
	if out.InsertID, err = strictString(m["insertId"]); err != nil {
		return fail("insertId", err)
	}
	if out.LogName, err = strictString(m["logName"]); err != nil {
		return fail("logName", err)
	}
	if out.InsertID == "" {
		return LogEntry{}, undecodable(formatLogEntry, "field insertId: missing")
	}
	if out.LogName == "" {
		return LogEntry{}, undecodable(formatLogEntry, "field logName: missing")
	}
	if out.TextPayload, err = strictString(m["textPayload"]); err != nil {
		return fail("textPayload", err)
	}
	if r, ok := m["resource"]; ok && r != nil {
		rm, ok := r.(map[string]any)
		if !ok {
			return fail("resource", fmt.Errorf("want an object, got %s", jsonKind(r)))
		}
		if out.Resource.Type, err = strictString(rm["type"]); err != nil {
			return fail("resource.type", err)
		}
		if out.Resource.Labels, err = anyLabels(rm["labels"]); err != nil {
			return fail("resource.labels", err)
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"timestamp", &out.Timestamp}, {"receiveTimestamp", &out.ReceiveTimestamp}} {
		s, err := strictString(m[f.name])
		if err != nil {
			return fail(f.name, err)
		}
		if *f.dst, err = parseTime(s); err != nil {
			return fail(f.name, err)
		}
	}
	if out.Severity, err = severityName(m["severity"]); err != nil {
		return fail("severity", err)
	}
	if out.Labels, err = anyLabels(m["labels"]); err != nil {
		return fail("labels", err)
	}
	if out.ProtoPayload, err = anyObject(m["protoPayload"]); err != nil {
		return fail("protoPayload", err)
	}
	if out.JSONPayload, err = anyObject(m["jsonPayload"]); err != nil {
		return fail("jsonPayload", err)
	}
	out.Audit = auditFields(out.ProtoPayload)
	return out, nil
}

// auditFields extracts the typed audit fields from an already decoded
// protoPayload, so the payload is parsed once. Fields of the wrong JSON kind
// are left empty rather than failing: the payload is still useful to rules.
func auditFields(p map[string]any) AuditLog {
	if p == nil {
		return AuditLog{}
	}
	a := AuditLog{
		Type:         str(p["@type"]),
		MethodName:   str(p["methodName"]),
		ServiceName:  str(p["serviceName"]),
		ResourceName: str(p["resourceName"]),
	}
	if ai, ok := p["authenticationInfo"].(map[string]any); ok {
		a.PrincipalEmail = str(ai["principalEmail"])
	}
	if rm, ok := p["requestMetadata"].(map[string]any); ok {
		a.CallerIP = str(rm["callerIp"])
	}
	if st, ok := p["status"].(map[string]any); ok {
		a.Status.Message = str(st["message"])
		if n, ok := st["code"].(json.Number); ok {
			a.Status.Code, _ = strconv.ParseInt(n.String(), 10, 64)
		}
	}
	if list, ok := p["authorizationInfo"].([]any); ok {
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			granted, _ := m["granted"].(bool)
			a.AuthorizationInfo = append(a.AuthorizationInfo, AuthorizationInfo{
				Resource:   str(m["resource"]),
				Permission: str(m["permission"]),
				Granted:    granted,
			})
		}
	}
	return a
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// severityNames maps LogSeverity numbers to names; exports normally carry the
// name, but the API also accepts the number.
var severityNames = map[int64]string{
	0: "DEFAULT", 100: "DEBUG", 200: "INFO", 300: "NOTICE", 400: "WARNING",
	500: "ERROR", 600: "CRITICAL", 700: "ALERT", 800: "EMERGENCY",
}

func severityName(v any) (string, error) {
	s, err := anyString(v)
	if err != nil {
		return "", err
	}
	if n, perr := strconv.ParseInt(s, 10, 64); perr == nil {
		name, ok := severityNames[n]
		if !ok {
			return "", fmt.Errorf("unknown numeric severity")
		}
		return name, nil
	}
	return strings.ToUpper(s), nil
}

// EncodeLogEntry renders e in the sink's JSON shape. ProtoPayload is written
// as is (Audit is derived from it and not written separately).
func EncodeLogEntry(e LogEntry) ([]byte, error) {
	type resource struct {
		Type   string            `json:"type,omitempty"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	w := struct {
		InsertID         string            `json:"insertId"`
		LogName          string            `json:"logName"`
		Resource         *resource         `json:"resource,omitempty"`
		Timestamp        string            `json:"timestamp,omitempty"`
		ReceiveTimestamp string            `json:"receiveTimestamp,omitempty"`
		Severity         string            `json:"severity,omitempty"`
		Labels           map[string]string `json:"labels,omitempty"`
		ProtoPayload     map[string]any    `json:"protoPayload,omitempty"`
		JSONPayload      map[string]any    `json:"jsonPayload,omitempty"`
		TextPayload      string            `json:"textPayload,omitempty"`
	}{
		InsertID:         e.InsertID,
		LogName:          e.LogName,
		Timestamp:        formatTime(e.Timestamp),
		ReceiveTimestamp: formatTime(e.ReceiveTimestamp),
		Severity:         e.Severity,
		Labels:           e.Labels,
		ProtoPayload:     e.ProtoPayload,
		JSONPayload:      e.JSONPayload,
		TextPayload:      e.TextPayload,
	}
	if e.Resource.Type != "" || len(e.Resource.Labels) > 0 {
		w.Resource = &resource{e.Resource.Type, e.Resource.Labels}
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("events.EncodeLogEntry: %w", err)
	}
	return b, nil
}
