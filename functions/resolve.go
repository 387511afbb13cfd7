package functions

import (
	"errors"
	"net/http"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// ResolveRequest is the JSON body of Resolve.
type ResolveRequest struct {
	// ID is the incident id, e.g. alert-0.n1m3x8a2b7kq.
	ID string `json:"id"`
	// Restore undoes the containment (see respond.ResolveOptions).
	Restore bool `json:"restore,omitempty"`
	// By names who resolved it.
	By string `json:"by,omitempty"`
	// DryRun reports what would be undone.
	DryRun bool `json:"dryRun,omitempty"`
}

// Resolve closes an incident as a false positive (POST), optionally
// restoring the sandbox. Like Status it is deployed authenticated only:
// whoever may invoke it may undo a containment.
func Resolve(w http.ResponseWriter, r *http.Request) {
	var req ResolveRequest
	e, r, ok := begin(w, r, http.MethodPost, &req)
	if !ok {
		return
	}
	if req.ID == "" {
		writeError(w, http.StatusBadRequest, `"id" is required: the incident id from coopguard incidents`)
		return
	}
	rep, err := e.Responder.Resolve(r.Context(), req.ID, respond.ResolveOptions{Restore: req.Restore, By: req.By, DryRun: req.DryRun})
	switch {
	case errors.Is(err, respond.ErrRefused):
		writeError(w, http.StatusConflict, "%v", err)
	case err != nil && rep == nil:
		writeError(w, http.StatusBadGateway, "resolve %s: %v", req.ID, err)
	case err != nil:
		logger.FromContext(r.Context()).Error("resolve incomplete", "incident", req.ID, "error", err)
		writeJSON(w, http.StatusBadGateway, rep)
	default:
		logger.FromContext(r.Context()).Info("incident resolved", "incident", req.ID, "restore", req.Restore, "by", req.By)
		writeJSON(w, http.StatusOK, rep)
	}
}
