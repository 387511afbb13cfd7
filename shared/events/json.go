package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// isNull reports whether raw is absent or the JSON literal null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// flexString reads a value that the samples send as a string but real
// payloads may send as a number or bool; the number's text is kept as is.
func flexString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return "", nil
	}
	// raw is one valid JSON value (it came out of json.Unmarshal), so its
	// first byte tells its kind.
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("malformed string")
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		if !json.Valid(raw) {
			return "", fmt.Errorf("malformed number")
		}
		return string(raw), nil
	case string(raw) == "true" || string(raw) == "false":
		return string(raw), nil
	case c == '[':
		return "", fmt.Errorf("want a string or number, got an array")
	case c == '{':
		return "", fmt.Errorf("want a string or number, got an object")
	default:
		return "", fmt.Errorf("want a string or number")
	}
}

// flexLabels reads a string map whose values should be strings but may be
// numbers or bools; null values read as "", nested values are refused.
func flexLabels(raw json.RawMessage) (map[string]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	// Fast path: the usual all-strings map in one pass.
	var plain map[string]string
	if err := json.Unmarshal(raw, &plain); err == nil {
		if len(plain) == 0 {
			return nil, nil
		}
		return plain, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("want an object of strings")
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, err := flexString(v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// flexUnix reads unix seconds sent as a number or numeric string; null and 0
// (test notifications) mean "unset" and yield the zero time.
func flexUnix(raw json.RawMessage) (time.Time, error) {
	s, err := flexString(raw)
	if err != nil {
		return time.Time{}, err
	}
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return time.Time{}, fmt.Errorf("want integer unix seconds")
		}
		n = int64(f)
	}
	// Beyond year 9999 RFC 3339 cannot represent it, and no incident lives there.
	if n < 0 || n > 253402300799 {
		return time.Time{}, fmt.Errorf("unix seconds out of range")
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.Unix(n, 0).UTC(), nil
}

// parseTime reads an optional RFC 3339 timestamp.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 timestamp")
	}
	return t.UTC(), nil
}

// formatTime is the inverse of parseTime: the zero time encodes as "".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// decodeObject decodes raw into a generic map, keeping numbers as json.Number
// so that large integers survive and re-encoding reproduces them exactly.
func decodeObject(raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("want a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	if len(m) == 0 {
		return nil, nil // {} carries nothing; nil keeps "absent" and "empty" alike
	}
	return m, nil
}

// jsonKind names the JSON kind of a decoded value for error messages, so
// that errors never quote the value itself.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a bool"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "an unknown value"
	}
}

// decodeTopObject decodes a whole payload in one pass (numbers as
// json.Number), for formats read mostly as generic JSON; parsing once
// instead of struct-then-map halves the work on large protoPayloads.
func decodeTopObject(format string, data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(format, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, undecodable(format, "trailing data after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, undecodable(format, "want a JSON object, got %s", jsonKind(v))
	}
	return m, nil
}

// anyString is flexString for an already decoded value.
func anyString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	default:
		return "", fmt.Errorf("want a string or number, got %s", jsonKind(v))
	}
}

// anyLabels is flexLabels for an already decoded value.
func anyLabels(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object of strings, got %s", jsonKind(v))
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, err := anyString(v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// anyObject returns v as an object; null and {} are nil.
func anyObject(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", jsonKind(v))
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// strictString returns v as a string; null is "", other kinds are an error.
func strictString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	default:
		return "", fmt.Errorf("want a string, got %s", jsonKind(v))
	}
}
