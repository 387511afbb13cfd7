// Package wif is a fake of IAM's Workload Identity Federation pools and
// providers (REST, iam.googleapis.com/v1 projects.locations.
// workloadIdentityPools), for the catalogue drill that creates them
// (Stratus gcp.persistence.create-workload-identity-federation). It
// serves create and get of pools and create of providers; the official
// REST client (google.golang.org/api/iam/v1) talks to it over HTTP through
// the gate (audit.Gate.RESTMiddleware with Route).
package wif

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	iamv1 "google.golang.org/api/iam/v1"

	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/emulator/googleerr"
)

// Server is the fake. Create it with New; it is safe for concurrent use.
type Server struct {
	now func() time.Time

	mu        sync.Mutex
	pools     map[string]*iamv1.WorkloadIdentityPool
	providers map[string]*iamv1.WorkloadIdentityPoolProvider
	ops       int
}

// New returns a Server without pools; now is the clock (nil: time.Now).
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, pools: map[string]*iamv1.WorkloadIdentityPool{}, providers: map[string]*iamv1.WorkloadIdentityPoolProvider{}}
}

// Paths: a location's pools, one pool, a pool's providers.
var (
	poolsPath     = regexp.MustCompile(`^/v1/(projects/[^/]+/locations/global)/workloadIdentityPools$`)
	poolPath      = regexp.MustCompile(`^/v1/(projects/[^/]+/locations/global/workloadIdentityPools/[^/]+)$`)
	providersPath = regexp.MustCompile(`^/v1/(projects/[^/]+/locations/global/workloadIdentityPools/[^/]+)/providers$`)
	// validID: 4-32 of [a-z0-9-]; the gcp- prefix is Google's.
	validID = regexp.MustCompile(`^[a-z0-9-]{4,32}$`)
)

// Serves reports whether r is a request for this fake (its paths).
func Serves(r *http.Request) bool {
	p := r.URL.Path
	return poolsPath.MatchString(p) || poolPath.MatchString(p) || providersPath.MatchString(p)
}

// iamSvc is IAM's service name in audit entries.
const iamSvc = "iam.googleapis.com"

// Route tells the gate what r is: the method as Admin Activity entries
// name it, the permission, the resource
// (https://cloud.google.com/iam/docs/audit-logging,
// https://cloud.google.com/iam/docs/permissions-reference).
func Route(r *http.Request) (audit.RESTCall, bool) {
	p := r.URL.Path
	row := func(method, perm string, t audit.LogType) audit.Row {
		return audit.Row{Service: iamSvc, Method: "google.iam.admin.v1." + method, Perms: []string{perm}, Type: t}
	}
	switch {
	case r.Method == http.MethodPost && poolsPath.MatchString(p):
		parent := poolsPath.FindStringSubmatch(p)[1]
		return audit.RESTCall{Row: row("CreateWorkloadIdentityPool", "iam.workloadIdentityPools.create", audit.AdminWrite),
			Resource: parent + "/workloadIdentityPools/" + r.URL.Query().Get("workloadIdentityPoolId")}, true
	case r.Method == http.MethodGet && poolPath.MatchString(p):
		return audit.RESTCall{Row: row("GetWorkloadIdentityPool", "iam.workloadIdentityPools.get", audit.AdminRead),
			Resource: poolPath.FindStringSubmatch(p)[1]}, true
	case r.Method == http.MethodPost && providersPath.MatchString(p):
		parent := providersPath.FindStringSubmatch(p)[1]
		return audit.RESTCall{Row: row("CreateWorkloadIdentityPoolProvider", "iam.workloadIdentityPoolProviders.create", audit.AdminWrite),
			Resource: parent + "/providers/" + r.URL.Query().Get("workloadIdentityPoolProviderId")}, true
	}
	return audit.RESTCall{}, false
}

// ServeHTTP serves the calls Route names; anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc, ok := Route(r)
	if !ok {
		googleerr.Write(w, http.StatusNotFound, "notFound", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	id := rc.Resource[strings.LastIndex(rc.Resource, "/")+1:]
	switch {
	case strings.HasSuffix(rc.Row.Method, "GetWorkloadIdentityPool"):
		s.mu.Lock()
		pool, ok := s.pools[rc.Resource]
		s.mu.Unlock()
		if !ok {
			googleerr.Write(w, http.StatusNotFound, "notFound", "Requested entity was not found.")
			return
		}
		writeJSON(w, pool)
	case !validID.MatchString(id) || strings.HasPrefix(id, "gcp-"):
		googleerr.Write(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("The ID %q must be 4-32 characters of [a-z0-9-], not starting with gcp-.", id))
	case strings.HasSuffix(rc.Row.Method, "CreateWorkloadIdentityPool"):
		var pool iamv1.WorkloadIdentityPool
		if !readJSON(w, r, &pool) {
			return
		}
		pool.Name, pool.State = rc.Resource, "ACTIVE"
		s.create(w, rc.Resource, func() { s.pools[rc.Resource] = &pool }, func() bool { return s.pools[rc.Resource] != nil }, &pool)
	default: // CreateWorkloadIdentityPoolProvider
		var prov iamv1.WorkloadIdentityPoolProvider
		if !readJSON(w, r, &prov) {
			return
		}
		if prov.Oidc == nil && prov.Aws == nil && prov.Saml == nil && prov.X509 == nil {
			googleerr.Write(w, http.StatusBadRequest, "badRequest", "A provider needs one of oidc, aws, saml or x509.")
			return
		}
		pool := rc.Resource[:strings.LastIndex(rc.Resource, "/providers/")]
		s.mu.Lock()
		_, found := s.pools[pool]
		s.mu.Unlock()
		if !found {
			googleerr.Write(w, http.StatusNotFound, "notFound", "Requested entity was not found.")
			return
		}
		prov.Name, prov.State = rc.Resource, "ACTIVE"
		s.create(w, rc.Resource, func() { s.providers[rc.Resource] = &prov }, func() bool { return s.providers[rc.Resource] != nil }, &prov)
	}
}

// create stores a new resource (store) unless it exists (409) and answers
// a finished operation whose response is v.
func (s *Server) create(w http.ResponseWriter, name string, store func(), exists func() bool, v any) {
	s.mu.Lock()
	if exists() {
		s.mu.Unlock()
		googleerr.Write(w, http.StatusConflict, "alreadyExists", "Requested entity already exists")
		return
	}
	store()
	s.ops++
	op := fmt.Sprintf("%s/operations/%x", name, s.ops)
	s.mu.Unlock()
	resp, err := json.Marshal(v)
	if err != nil {
		googleerr.Write(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	writeJSON(w, &iamv1.Operation{Name: op, Done: true, Response: resp})
}

// Pool returns a pool, for tests to inspect.
func (s *Server) Pool(name string) (*iamv1.WorkloadIdentityPool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pools[name]
	return p, ok
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		googleerr.Write(w, http.StatusBadRequest, "badRequest", "Invalid JSON payload received: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}
