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
	// Project is the sandbox's project; empty is coopguard's own
	// (cloud.gcp.project). A sandbox is addressed by (project, name).
	// Another project must exist and coopguard be able to read it, unless
	// CreateProject.
	Project string `json:"project,omitempty"`
	// CreateProject creates Project under [coopguard.fleet] folder, with
	// its billing account, when it does not exist (the security guide's
	// project per sandbox).
	CreateProject bool `json:"createProject,omitempty"`
	// DryRun returns the plan and changes nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// Adopt guards the existing VM named Name as it is (no restart)
	// instead of building one: an explicit act, recorded on the VM's
	// labels (provisioner.AdoptedLabel).
	Adopt bool `json:"adopt,omitempty"`
	// AdoptAll adopts every VM of the zone cloudcoop created (metadata
	// cloudcoop-version); the answer is {"reports": [...]}.
	AdoptAll bool `json:"adoptAll,omitempty"`
	// Disruptive also makes, on an adopted VM, the fixes that need a stop
	// (no external IP, Shielded VM, the sandbox's own account), starting
	// it again only if it was running and is not contained; with DryRun
	// the report marks the gaps it would close (provisioner.Gap).
	Disruptive bool `json:"disruptive,omitempty"`
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
	if req.Project != "" && !config.ValidProjectID(req.Project) {
		writeError(w, http.StatusBadRequest, "project %q is not a valid project id: 6-30 lowercase letters, digits and hyphens, starting with a letter", req.Project)
		return
	}
	log := logger.FromContext(r.Context())
	opts := provisioner.Options{Name: req.Name, Project: req.Project, CreateProject: req.CreateProject, DryRun: req.DryRun, Adopt: req.Adopt, Disruptive: req.Disruptive}
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
	if req.AdoptAll {
		reps, err := e.Provisioner.AdoptAll(r.Context(), opts)
		if err != nil {
			log.Error("adopt incomplete", "error", err)
		}
		if stream {
			// One report line per VM, then the error if any: the same
			// stream a single sandbox's provision writes.
			for _, rep := range reps {
				_ = enc.Encode(map[string]any{"report": rep})
			}
			if err != nil {
				_ = enc.Encode(errorBody{Error: err.Error()})
			}
			return
		}
		if err != nil {
			writeJSON(w, provisionStatus(err), map[string]any{"reports": reps, "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"reports": reps})
		return
	}
	rep, err := e.Provisioner.Converge(r.Context(), opts)
	if rep == nil {
		code := provisionStatus(err)
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

// provisionStatus is the HTTP status of a refused or failed converge.
func provisionStatus(err error) int {
	switch {
	case errors.Is(err, config.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, provisioner.ErrNothingToAdopt):
		return http.StatusNotFound
	case errors.Is(err, provisioner.ErrNotOurs), errors.Is(err, provisioner.ErrDisruptive):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
