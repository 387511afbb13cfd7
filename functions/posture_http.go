package functions

import (
	"context"
	"net/http"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/shared/config"
)

// Posture checks the live project against the security checklist and
// returns the posture.Report as JSON (GET). Failing checks are the report's
// content, not an HTTP error: the answer is 200 whenever the checks ran,
// and callers (`coopguard posture`, monitoring) judge the results.
func (e *Env) Posture(w http.ResponseWriter, r *http.Request) {
	r, ok := e.begin(w, r, http.MethodGet, nil)
	if !ok {
		return
	}
	rep, err := CheckPosture(r.Context(), e)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "posture: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// CheckPosture runs every posture check for e's sandbox, judging ages by
// the Env's clock. The CLI's direct mode and the scheduled run call it
// too.
func CheckPosture(ctx context.Context, e *Env) (posture.Report, error) {
	return checkPosture(ctx, e, config.AccountReader)
}

// checkPosture runs the checks acting as account: the reader for Posture,
// the rotator for RotateKeys' scheduled run.
func checkPosture(ctx context.Context, e *Env, account string) (posture.Report, error) {
	in, err := posture.NewInput(e.Config, e.Now())
	if err != nil {
		return posture.Report{}, err
	}
	if e.Store != nil {
		in.KeyIDs = e.Store
	}
	return posture.Run(ctx, e.ClientsOf(account), in), nil
}
