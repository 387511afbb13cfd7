package functions

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// ProvisionRequest is the optional JSON body of Provision.
type ProvisionRequest struct {
	// Name overrides the sandbox (VM) name from config.
	Name string `json:"name,omitempty"`
	// DryRun returns the plan and changes nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// Provision builds or converges the sandbox (POST). The response lists
// every resource with its action (create, update, none) and status. With
// "Accept: application/x-ndjson" each resource is streamed as one JSON line
// as it finishes, then the report.
func (e *Env) Provision(w http.ResponseWriter, r *http.Request) {
	var req ProvisionRequest
	r, ok := e.begin(w, r, http.MethodPost, &req)
	if !ok {
		return
	}
	if req.Name != "" && !config.ValidName(req.Name) {
		writeError(w, http.StatusBadRequest, "name %q is not a valid instance name: 1-63 lowercase letters, digits and hyphens, starting with a letter (RFC 1035)", req.Name)
		return
	}
	log := logger.FromContext(r.Context())
	opts := provisioner.Options{Name: req.Name, DryRun: req.DryRun}
	stream := strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
	var enc *json.Encoder
	if stream {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		enc = json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		opts.Progress = func(res provisioner.Result) {
			_ = enc.Encode(map[string]any{"resource": res})
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	rep, err := e.Provisioner.Converge(r.Context(), opts)
	if rep == nil {
		code := http.StatusInternalServerError
		if errors.Is(err, config.ErrInvalid) {
			code = http.StatusBadRequest
		}
		log.Error("provision refused", "error", err)
		if stream {
			_ = enc.Encode(errorBody{Error: err.Error()})
			return
		}
		writeError(w, code, "%v", err)
		return
	}
	if err != nil {
		log.Error("provision incomplete", "sandbox", rep.Sandbox, "error", err)
	} else {
		log.Info("provision done", "sandbox", rep.Sandbox, "dryRun", rep.DryRun, "seconds", rep.Seconds)
	}
	if stream {
		_ = enc.Encode(map[string]any{"report": rep})
		return
	}
	code := http.StatusOK
	if err != nil {
		// Something is left to do: a retry converges the rest.
		code = http.StatusBadGateway
		if errors.Is(err, provisioner.ErrNotOurs) {
			code = http.StatusConflict
		}
	}
	writeJSON(w, code, rep)
}
