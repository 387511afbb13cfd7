package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/cloudcoop/coopguard/shared/logger"
)

// maxBody bounds every HTTP request body.
const maxBody = 64 << 10

// errorBody is the JSON shape of every HTTP error coopguard returns.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError writes a JSON error; the message must say what to do.
func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, errorBody{Error: fmt.Sprintf(format, args...)})
}

// allowMethods answers 405 with Allow unless r uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	for _, m := range methods {
		w.Header().Add("Allow", m)
	}
	writeError(w, http.StatusMethodNotAllowed, "method %s not allowed: use %v", r.Method, methods)
	return false
}

// decodeBody decodes an optional JSON body into v, rejecting unknown
// fields and bodies over maxBody. It writes the error response itself and
// returns false on failure.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "request body over %d bytes: send only the overrides (name, dryRun)", maxBody)
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "read request body: %v", err)
		return false
	case len(body) == 0:
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: %v", err)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad JSON body: more than one JSON value")
		return false
	}
	return true
}

// requestLogger is the Env's logger with the execution id the functions
// framework assigned, so a request's lines group together.
func requestLogger(r *http.Request, e *Env) *http.Request {
	l := e.Logger
	if id := funcframework.ExecutionIDFromContext(r.Context()); id != "" {
		l = l.With("logging.googleapis.com/labels", map[string]string{"execution_id": id})
	}
	if tr := funcframework.TraceIDFromContext(r.Context()); tr != "" {
		l = l.With(logger.TraceAttr(e.Config.Cloud.GCP.Project, tr))
	}
	return r.WithContext(logger.WithLogger(r.Context(), l))
}

// begin is the prelude of every HTTP function: the method check, the
// request's logger, and the optional JSON body (into body, when not nil).
// It writes the error response itself and returns ok=false then.
func (e *Env) begin(w http.ResponseWriter, r *http.Request, method string, body any) (*http.Request, bool) {
	if !allowMethods(w, r, method) {
		return r, false
	}
	r = requestLogger(r, e)
	if body != nil && !decodeBody(w, r, body) {
		return r, false
	}
	return r, true
}
