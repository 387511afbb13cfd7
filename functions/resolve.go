package functions

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// ResolveRequest is the JSON body of Resolve. Who resolves is not in it:
// it is the verified caller (see Caller).
type ResolveRequest struct {
	// ID is the incident id, e.g. alert-0.n1m3x8a2b7kq.
	ID string `json:"id"`
	// Restore undoes the containment (see respond.ResolveOptions).
	Restore bool `json:"restore,omitempty"`
	// DryRun reports what would be undone.
	DryRun bool `json:"dryRun,omitempty"`
	// Note is the incident's cause as found (see respond.ResolveOptions).
	Note string `json:"note,omitempty"`
}

// Resolve closes an incident as a false positive (POST), optionally
// restoring the sandbox. Like Status it is deployed authenticated only:
// whoever may invoke it may undo a containment.
func (e *Env) Resolve(w http.ResponseWriter, r *http.Request) {
	var req ResolveRequest
	r, ok := e.begin(w, r, http.MethodPost, &req)
	if !ok {
		return
	}
	if req.ID == "" {
		writeError(w, http.StatusBadRequest, `"id" is required: the incident id from coopguard incidents`)
		return
	}
	by, err := Caller(e, r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "%v", err)
		return
	}
	rep, err := e.Restorer.Resolve(r.Context(), req.ID, respond.ResolveOptions{Restore: req.Restore, By: by, DryRun: req.DryRun, Note: req.Note})
	switch {
	case errors.Is(err, respond.ErrRefused):
		writeError(w, http.StatusConflict, "%v", err)
	case err != nil && rep == nil:
		writeError(w, http.StatusBadGateway, "resolve %s: %v", req.ID, err)
	case err != nil:
		logger.FromContext(r.Context()).Error("resolve incomplete", "incident", req.ID, "error", err)
		writeJSON(w, http.StatusBadGateway, rep)
	default:
		logger.FromContext(r.Context()).Info("incident resolved", "incident", req.ID, "restore", req.Restore, "by", by)
		writeJSON(w, http.StatusOK, rep)
	}
}

// WithLocalOperator names the operator of a local server (`coopguard
// serve`): every request it accepts is theirs.
func WithLocalOperator(name string) Option { return func(e *Env) { e.localOperator = name } }

// Caller is the verified identity behind a request. Under `coopguard
// serve` it is the local operator. Deployed, Cloud Run admits only
// requests carrying a Google-signed token of a principal holding
// run.invoker. When that token is an ID token it is passed on with its
// signature replaced by signatureRemoved, the mark that Cloud Run, not
// the caller, checked it; the token Cloud Run checks is
// X-Serverless-Authorization when the request has one, and then the
// Authorization header reaches the function untouched, so it is read
// only when X-Serverless-Authorization is absent. A token that still
// carries a signature did not come through that check (a public URL,
// a proxy, a test): anyone could have written its email, so it is
// refused rather than named as who resolved.
func Caller(e *Env, r *http.Request) (string, error) {
	if e.localOperator != "" {
		return "local:" + e.localOperator, nil
	}
	header := serverlessAuthorization
	if r.Header.Get(header) == "" {
		header = "Authorization"
	}
	token, ok := strings.CutPrefix(r.Header.Get(header), "Bearer ")
	parts := strings.Split(token, ".")
	if !ok || len(parts) != 3 {
		return "", fmt.Errorf("no ID token in %s: call Resolve with an identity token (gcloud auth print-identity-token)", header)
	}
	if parts[2] != signatureRemoved {
		return "", fmt.Errorf("the ID token in %s was not verified by Cloud Run (its signature is still there): deploy Resolve authenticated only (no allUsers run.invoker) and call its Cloud Run URL", header)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("the ID token's payload is not base64url")
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Email == "" || !claims.EmailVerified {
		return "", errors.New("the ID token has no verified email claim: use a user's or service account's identity token")
	}
	return claims.Email, nil
}

const (
	// serverlessAuthorization is the header Cloud Run checks instead of
	// Authorization when a request has it
	// (https://cloud.google.com/run/docs/authenticating/service-to-service).
	serverlessAuthorization = "X-Serverless-Authorization"
	// signatureRemoved is what Cloud Run puts in place of the signature of
	// an ID token it verified before passing it on
	// (https://cloud.google.com/run/docs/troubleshooting#signature-removed).
	signatureRemoved = "SIGNATURE_REMOVED_BY_GOOGLE"
)
