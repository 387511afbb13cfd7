// Package events decodes the payloads that reach coopguard's functions:
// Pub/Sub push envelopes (Eventarc CloudEvents), Cloud Monitoring incident
// notifications, Cloud Logging sink entries, Secret Manager notifications and
// Cloud Scheduler messages.
//
// The package knows payload formats and nothing else: it does not decide what
// an event means for the sandbox. Every decoder bounds its input, ignores
// unknown fields, tolerates absent optional fields and fails with an error that
// wraps [ErrUndecodable] when a payload can never be processed, so a handler
// can acknowledge it instead of letting Pub/Sub redeliver it forever. Errors
// name the offending field, never the payload bytes, because payloads may
// carry secrets.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUndecodable marks a payload that can never be decoded (malformed, too
// large, missing a required field). Callers test it with errors.Is and
// acknowledge the message: retrying cannot help.
var ErrUndecodable = errors.New("undecodable payload")

// MaxPayloadSize bounds every input a decoder accepts (1 MiB). Larger inputs
// are rejected with ErrUndecodable before parsing, so a hostile or broken
// publisher cannot make a function allocate without limit.
const MaxPayloadSize = 1 << 20

// undecodable builds an ErrUndecodable error for format, naming what is wrong.
func undecodable(format, format2 string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrUndecodable, format, fmt.Sprintf(format2, args...))
}

// checkSize rejects empty and oversized inputs of the given format.
func checkSize(format string, data []byte) error {
	if len(data) == 0 {
		return undecodable(format, "empty payload")
	}
	if len(data) > MaxPayloadSize {
		return undecodable(format, "payload of %d bytes exceeds the %d-byte limit", len(data), MaxPayloadSize)
	}
	return nil
}

// jsonError describes an encoding/json error without echoing payload content:
// SyntaxError and UnmarshalTypeError messages can quote input, so only the
// offset, field path and JSON kind are kept.
func jsonError(format string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return undecodable(format, "malformed JSON at byte offset %d", syn.Offset)
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 12" → "number"
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return undecodable(format, "field %s: JSON %s where %s was expected", field, kind, typ.Type)
	default:
		return undecodable(format, "malformed JSON")
	}
}
