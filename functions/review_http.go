package functions

import (
	"errors"
	"net/http"

	"github.com/cloudcoop/coopguard/shared/config"
)

// ReviewRequest is ReviewReport's body: `coopguard review`'s flags.
type ReviewRequest struct {
	// Since is the window, ending now ("7d"); at most Logging's retention.
	Since config.Duration `json:"since"`
	// Sandbox, when set, reviews that sandbox only.
	Sandbox string `json:"sandbox,omitempty"`
	// Record adds what the review saw to the marks the next review
	// compares with (coopguard review records unless --no-record).
	Record bool `json:"record"`
}

// ReviewReport is the weekly review on demand over HTTP (POST, JSON
// body ReviewRequest), run as the reviewer like the scheduled Review: the
// way `coopguard review` reaches a deployment without --config. It
// answers the review as JSON, which the CLI renders (markdown, HTML); a
// window beyond Logging's retention or an unknown sandbox is a 400 that
// says what to pass instead.
func (e *Env) ReviewReport(w http.ResponseWriter, r *http.Request) {
	var req ReviewRequest
	r, ok := e.begin(w, r, http.MethodPost, &req)
	if !ok {
		return
	}
	if req.Since.Duration == 0 {
		req.Since.Duration = ReviewWindow
	}
	rv, err := BuildReview(r.Context(), e, ReviewOptions{Since: req.Since.Duration, Sandbox: req.Sandbox, Record: req.Record, Account: config.AccountReviewer})
	switch {
	case errors.Is(err, ErrReviewWindow) || errors.Is(err, ErrReviewSandbox):
		writeError(w, http.StatusBadRequest, "%v", err)
	case err != nil:
		writeError(w, http.StatusBadGateway, "review: %v", err)
	default:
		writeJSON(w, http.StatusOK, rv)
	}
}
