package audit

import (
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/cloudcoop/coopguard/test/emulator/googleerr"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// RESTCall is what a REST fake other than Compute's tells the gate of one
// request: its row (method, permission, log type) and the relative
// resource name it acts on.
type RESTCall struct {
	Row      Row
	Resource string
}

// RESTMiddleware authenticates, authorises and audits every request that
// route recognises before next serves it, as Middleware does for Compute;
// a request route does not recognise goes to next unaudited (the fake
// answers 404).
func (g *Gate) RESTMiddleware(route func(*http.Request) (RESTCall, bool), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal, msg, ok := g.authenticate(r.Header.Get("Authorization"))
		if !ok {
			reason := "required"
			if msg == invalidCredentialsMessage {
				reason = "authError"
			}
			googleerr.Write(w, http.StatusUnauthorized, reason, msg)
			return
		}
		rc, ok := route(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		c := &call{row: rc.Row, principal: principal, resource: rc.Resource, userAgent: r.Header.Get("User-Agent"), callerIP: hostOf(r.RemoteAddr)}
		g.origin(c, r.Header.Get("Authorization"))
		authz, denied := g.authorize(c)
		if denied != nil {
			msg := "Permission '" + denied.perm + "' denied on resource '" + denied.resource + "' (or it may not exist)."
			g.record(r.Context(), c, authz, statusOf(code.Code_PERMISSION_DENIED, msg))
			googleerr.Write(w, http.StatusForbidden, "forbidden", msg)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(iam.WithPrincipal(r.Context(), principal)))
		g.record(r.Context(), c, authz, statusOf(code.Code(googleerr.Code(rec.code)), http.StatusText(rec.code)))
	})
}
