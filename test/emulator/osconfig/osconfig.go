// Package osconfig is a fake of OS Config's OS policy assignments (REST,
// osconfig.googleapis.com/v1 projects.locations.osPolicyAssignments), for
// the catalogue drill that runs a command on VMs through it (Stratus
// gcp.execution.os-config-run-command). It serves create only; the
// official REST client (google.golang.org/api/osconfig/v1) talks to it
// over HTTP through the gate (audit.Gate.RESTMiddleware with Route).
package osconfig

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	osconfigv1 "google.golang.org/api/osconfig/v1"

	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/emulator/googleerr"
)

// Server is the fake. Create it with New; it is safe for concurrent use.
type Server struct {
	mu          sync.Mutex
	assignments map[string]*osconfigv1.OSPolicyAssignment
	ops         int
}

// New returns a Server without assignments.
func New() *Server { return &Server{assignments: map[string]*osconfigv1.OSPolicyAssignment{}} }

var (
	// assignmentsPath is a zone's assignments (OS policy assignments are
	// zonal).
	assignmentsPath = regexp.MustCompile(`^/v1/(projects/[^/]+/locations/[a-z]+-[a-z]+\d+-[a-z])/osPolicyAssignments$`)
	// validID: lowercase letters, digits and hyphens, starting with a
	// letter, ending with a letter or digit, 1-63 characters.
	validID = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Serves reports whether r is a request for this fake.
func Serves(r *http.Request) bool { return assignmentsPath.MatchString(r.URL.Path) }

// Route tells the gate what r is. Creating an assignment is a Data Access
// DATA_WRITE entry (OS Config writes no Admin Activity entry), methodName
// google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment
// (https://cloud.google.com/compute/docs/os-configuration-management/audit-logging,
// https://stratus-red-team.cloud/attack-techniques/GCP/gcp.execution.os-config-run-command/),
// permission osconfig.osPolicyAssignments.create.
func Route(r *http.Request) (audit.RESTCall, bool) {
	m := assignmentsPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		return audit.RESTCall{}, false
	}
	return audit.RESTCall{Row: audit.Row{Service: "osconfig.googleapis.com", Method: "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment",
		Perms: []string{"osconfig.osPolicyAssignments.create"}, Type: audit.DataWrite},
		Resource: m[1] + "/osPolicyAssignments/" + r.URL.Query().Get("osPolicyAssignmentId")}, true
}

// ServeHTTP creates an assignment: a valid id, at least one OS policy, an
// instance filter and a rollout are required (400), a duplicate is 409;
// it answers a finished operation whose response is the assignment.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc, ok := Route(r)
	if !ok {
		googleerr.Write(w, http.StatusNotFound, "notFound", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	id := rc.Resource[strings.LastIndex(rc.Resource, "/")+1:]
	var a osconfigv1.OSPolicyAssignment
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	switch {
	case err != nil:
		googleerr.Write(w, http.StatusBadRequest, "badRequest", "Invalid JSON payload received: "+err.Error())
		return
	case !validID.MatchString(id):
		googleerr.Write(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("Invalid osPolicyAssignmentId %q.", id))
		return
	case len(a.OsPolicies) == 0 || a.InstanceFilter == nil || a.Rollout == nil:
		googleerr.Write(w, http.StatusBadRequest, "badRequest", "osPolicies, instanceFilter and rollout are required.")
		return
	}
	a.Name, a.RolloutState, a.Baseline = rc.Resource, "IN_PROGRESS", true
	s.mu.Lock()
	if s.assignments[rc.Resource] != nil {
		s.mu.Unlock()
		googleerr.Write(w, http.StatusConflict, "alreadyExists", "Requested entity already exists")
		return
	}
	s.assignments[rc.Resource] = &a
	s.ops++
	op := fmt.Sprintf("%s/operations/%x", rc.Resource, s.ops)
	s.mu.Unlock()
	resp, err := json.Marshal(&a)
	if err != nil {
		googleerr.Write(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(&osconfigv1.Operation{Name: op, Done: true, Response: resp})
}

// Assignments returns the names of the assignments made, for tests.
func (s *Server) Assignments() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.assignments {
		out = append(out, n)
	}
	return out
}
