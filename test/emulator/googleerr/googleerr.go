// Package googleerr writes Google's JSON error shape, which the official
// REST clients read as a *googleapi.Error, and maps between gRPC codes and
// HTTP statuses the way Google's APIs do
// (https://cloud.google.com/apis/design/errors#http_mapping).
package googleerr

import (
	"encoding/json"
	"net/http"

	"google.golang.org/grpc/codes"
)

// Write answers an error: HTTP status, its canonical status name, a
// reason (e.g. "forbidden", "notFound") and the message.
func Write(w http.ResponseWriter, status int, reason, message string) {
	type item struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}
	var b struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Errors  []item `json:"errors,omitempty"`
			Status  string `json:"status,omitempty"`
		} `json:"error"`
	}
	b.Error.Code, b.Error.Message, b.Error.Status = status, message, StatusName(status)
	if reason != "" {
		b.Error.Errors = []item{{Message: message, Domain: "global", Reason: reason}}
	}
	out, _ := json.Marshal(b)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// WriteCompute answers an error in Compute Engine's shape, which has no
// canonical status name: {"error": {"code", "message", "errors": [{"domain",
// "reason", "message"}]}}.
func WriteCompute(w http.ResponseWriter, status int, reason, message string) {
	type item struct {
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	var b struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Errors  []item `json:"errors"`
		} `json:"error"`
	}
	b.Error.Code, b.Error.Message = status, message
	b.Error.Errors = []item{{Domain: "global", Reason: reason, Message: message}}
	out, _ := json.Marshal(b)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// mapping pairs each gRPC code with the HTTP status Google's APIs answer.
var mapping = []struct {
	code   codes.Code
	status int
}{
	{codes.OK, http.StatusOK},
	{codes.InvalidArgument, http.StatusBadRequest},
	{codes.FailedPrecondition, http.StatusPreconditionFailed},
	{codes.OutOfRange, http.StatusBadRequest},
	{codes.Unauthenticated, http.StatusUnauthorized},
	{codes.PermissionDenied, http.StatusForbidden},
	{codes.NotFound, http.StatusNotFound},
	{codes.AlreadyExists, http.StatusConflict},
	{codes.Aborted, http.StatusConflict},
	{codes.ResourceExhausted, http.StatusTooManyRequests},
	{codes.Canceled, 499},
	{codes.Internal, http.StatusInternalServerError},
	{codes.Unimplemented, http.StatusNotImplemented},
	{codes.Unavailable, http.StatusServiceUnavailable},
	{codes.DeadlineExceeded, http.StatusGatewayTimeout},
}

// HTTPStatus is the HTTP status of a gRPC code.
func HTTPStatus(c codes.Code) int {
	for _, m := range mapping {
		if m.code == c {
			return m.status
		}
	}
	return http.StatusInternalServerError
}

// Code is the gRPC code of an HTTP status (the first code that maps to it;
// any other 2xx is OK).
func Code(status int) codes.Code {
	if status >= 200 && status < 300 {
		return codes.OK
	}
	for _, m := range mapping {
		if m.status == status {
			return m.code
		}
	}
	return codes.Internal
}

// names are the canonical status names Google's JSON errors carry.
var names = map[codes.Code]string{
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Unauthenticated: "UNAUTHENTICATED", codes.PermissionDenied: "PERMISSION_DENIED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS", codes.Aborted: "ABORTED",
	codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.Canceled: "CANCELLED", codes.Internal: "INTERNAL",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Unavailable: "UNAVAILABLE", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.OutOfRange: "OUT_OF_RANGE",
}

// StatusName is the canonical status name of an HTTP status.
func StatusName(status int) string { return names[Code(status)] }
