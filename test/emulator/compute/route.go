package compute

import (
	"net/http"
)

// Route is what the emulator's IAM and audit middleware needs to know of
// one Compute REST request before it is served.
type Route struct {
	// Method is the API reference's method id, e.g. "compute.instances.stop".
	Method string
	// Project, Scope ("zones", "regions", "global" or "aggregated"), Loc
	// (zone or region), Collection, Name and Verb come from the path.
	Project, Scope, Loc, Collection, Name, Verb string
}

// RouteOf parses r into its Route; ok is false for a path the fake does
// not serve (the fake itself answers 404).
func (s *Server) RouteOf(r *http.Request) (Route, bool) {
	c, pattern, ok := s.parse(r)
	if !ok {
		return Route{}, false
	}
	e, found := s.routes[pattern]
	if !found {
		return Route{}, false
	}
	return Route{Method: e.method, Project: c.project, Scope: c.scope, Loc: c.loc, Collection: c.coll, Name: c.name, Verb: c.verb}, true
}
