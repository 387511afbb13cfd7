package functions

import (
	"context"
	"errors"
	"net/http"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/provisioner"
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
	q := r.URL.Query()
	rep, err := PostureOf(r.Context(), e, q.Get("project"), q.Get("sandbox"))
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, config.ErrInvalid):
			code = http.StatusBadRequest
		case errors.Is(err, ErrNotRecorded):
			code = http.StatusNotFound
		}
		writeError(w, code, "posture: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// CheckPosture runs every posture check for e's sandbox, judging ages by
// the Env's clock. The CLI's direct mode and the scheduled run call it
// too.
func CheckPosture(ctx context.Context, e *Env) (posture.Report, error) {
	return checkPosture(ctx, e, config.AccountReader, nil)
}

// checkPosture runs the checks acting as account: the reader for Posture,
// the rotator for RotateKeys' scheduled run.
// sb, when not nil, is the sandbox checked instead of the configured one.
func checkPosture(ctx context.Context, e *Env, account string, sb *provisioner.Sandbox) (posture.Report, error) {
	in, err := posture.NewInput(e.Config, e.Now())
	if err != nil {
		return posture.Report{}, err
	}
	if sb != nil {
		in.Sandbox = sb
	}
	if e.Store != nil {
		in.KeyIDs = e.Store
	}
	return posture.Run(ctx, e.ClientsOf(account), in), nil
}
