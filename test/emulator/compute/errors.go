package compute

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/emulator/googleerr"
)

// apiError is an error the API answers with. Its JSON is Google's error
// shape, which googleapi.CheckResponse turns into a *googleapi.Error, so the
// code under test sees exactly what the real API would give it.
type apiError struct {
	code    int
	reason  string
	message string
}

// Error implements error.
func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message)
}

// writeError answers err in Compute's JSON error shape (no status name).
func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = &apiError{code: http.StatusInternalServerError, reason: "backendError", message: err.Error()}
	}
	googleerr.WriteCompute(w, e.code, e.reason, e.message)
}

// errNotFound is the real API's answer for a missing resource.
func errNotFound(key string) *apiError {
	return errNotFoundMsg(fmt.Sprintf("The resource '%s' was not found", key))
}

// errNotFoundMsg is a 404 with a custom message.
func errNotFoundMsg(msg string) *apiError {
	return &apiError{code: http.StatusNotFound, reason: "notFound", message: msg}
}

// errAlreadyExists is the real API's answer for a taken name.
func errAlreadyExists(key string) *apiError {
	return &apiError{code: http.StatusConflict, reason: "alreadyExists", message: fmt.Sprintf("The resource '%s' already exists", key)}
}

// errInvalid is a 400 for a malformed request.
func errInvalid(msg string) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalid", message: msg}
}

// errInvalidField is a 400 worded as the real API words bad field values.
func errInvalidField(field, value, why string) *apiError {
	return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. %s", field, value, why))
}

// errConditionNotMet is the 412 for a stale fingerprint: the caller must
// re-read the resource and retry with the current fingerprint.
func errConditionNotMet(msg string) *apiError {
	return &apiError{code: http.StatusPreconditionFailed, reason: "conditionNotMet", message: msg}
}

// errNotReady is the 400 for acting on a resource in the middle of
// another change (starting a VM that is still STOPPING).
func errNotReady(key, status string) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "resourceNotReady",
		message: fmt.Sprintf("The resource '%s' is not ready (status %s)", key, status)}
}

// errRateLimited is the 403 Compute answers when a rate quota is spent.
func errRateLimited(msg string) *apiError {
	return &apiError{code: http.StatusForbidden, reason: "rateLimitExceeded", message: msg}
}

// errInUse is the 400 for deleting a resource others still reference.
func errInUse(kind, key, user string) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "resourceInUseByAnotherResource",
		message: fmt.Sprintf("The %s resource '%s' is already being used by '%s'", kind, key, user)}
}

// fingerprinted names the methods whose FailedPrecondition is a stale
// fingerprint (412); elsewhere FailedPrecondition is a plain 400.
func fingerprinted(method string) bool {
	for _, m := range []string{".setMetadata", ".setLabels", ".setTags", "subnetworks.patch"} {
		if strings.HasSuffix(method, m) {
			return true
		}
	}
	return false
}

// faultError turns an injected fault into the HTTP error the real API
// would send for that condition.
func faultError(method string, f faults.Fault) *apiError {
	msg := f.Message
	if msg == "" {
		msg = "injected fault: " + f.Code.String()
	}
	e := &apiError{message: msg}
	switch f.Code {
	case codes.NotFound:
		e.code, e.reason = http.StatusNotFound, "notFound"
	case codes.AlreadyExists:
		e.code, e.reason = http.StatusConflict, "alreadyExists"
	case codes.Aborted:
		e.code, e.reason = http.StatusConflict, "aborted"
	case codes.FailedPrecondition:
		if fingerprinted(method) {
			e.code, e.reason = http.StatusPreconditionFailed, "conditionNotMet"
		} else {
			e.code, e.reason = http.StatusBadRequest, "failedPrecondition"
		}
	case codes.InvalidArgument, codes.OutOfRange:
		e.code, e.reason = http.StatusBadRequest, "invalid"
	case codes.ResourceExhausted:
		e.code, e.reason = http.StatusTooManyRequests, "rateLimitExceeded"
	case codes.Unavailable:
		e.code, e.reason = http.StatusServiceUnavailable, "backendError"
	case codes.DeadlineExceeded:
		e.code, e.reason = http.StatusGatewayTimeout, "deadlineExceeded"
	case codes.PermissionDenied:
		e.code, e.reason = http.StatusForbidden, "forbidden"
	case codes.Unauthenticated:
		e.code, e.reason = http.StatusUnauthorized, "authError"
	case codes.Unimplemented:
		e.code, e.reason = http.StatusNotImplemented, "notImplemented"
	case codes.Canceled:
		e.code, e.reason = 499, "cancelled"
	default:
		e.code, e.reason = http.StatusInternalServerError, "backendError"
	}
	return e
}

// operationFault is the error an operation reports when the injector asks
// for the work behind it to fail; an unset code means an internal error,
// the usual way real operations fail.
func operationFault(f faults.Fault) *apiError {
	if f.Code == codes.OK {
		msg := f.Message
		if msg == "" {
			msg = "injected operation error"
		}
		return &apiError{code: http.StatusInternalServerError, reason: "INTERNAL_ERROR", message: msg}
	}
	e := faultError("", f)
	return e
}
