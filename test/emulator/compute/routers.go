package compute

import (
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// routerRoutes registers the regional routers collection; Cloud NAT lives
// in a router's nats field, changed with patch.
func (s *Server) routerRoutes() {
	s.handle("POST regions/routers", endpoint{method: "compute.routers.insert", mutate: s.insertRouter})
	s.handle("GET regions/routers/{}", endpoint{method: "compute.routers.get", read: s.getRouter})
	s.handle("GET regions/routers", endpoint{method: "compute.routers.list", read: func(c *call) (any, error) {
		return s.list(c, "routers", "compute#routerList")
	}})
	s.handle("PATCH regions/routers/{}", endpoint{method: "compute.routers.patch", mutate: func(c *call) (target, error) {
		return s.changeRouter(c, true)
	}})
	s.handle("PUT regions/routers/{}", endpoint{method: "compute.routers.update", mutate: func(c *call) (target, error) {
		return s.changeRouter(c, false)
	}})
	s.handle("DELETE regions/routers/{}", endpoint{method: "compute.routers.delete", mutate: s.deleteRouter})
}

// insertRouter creates a Cloud Router on an existing network.
func (s *Server) insertRouter(c *call) (target, error) {
	rt := &computepb.Router{}
	if err := c.decode(rt); err != nil {
		return target{}, err
	}
	if !rfc1035.MatchString(rt.GetName()) {
		return target{}, errInvalidField("resource.name", rt.GetName(), "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	netURL, err := s.requireNetwork(c.project, rt.GetNetwork())
	if err != nil {
		return target{}, err
	}
	rt.Network = proto.String(netURL)
	rt.Region = proto.String(selfLinkBase + c.scopePath())
	if err := validateNats(rt); err != nil {
		return target{}, err
	}
	fillNats(rt)
	key := c.key("routers", rt.GetName())
	id, err := s.create(key, "compute#router", rt)
	return target{key: key, id: id}, err
}

// validateNats checks the NAT fields the API insists on.
func validateNats(rt *computepb.Router) error {
	seen := map[string]bool{}
	for _, n := range rt.GetNats() {
		if !rfc1035.MatchString(n.GetName()) {
			return errInvalidField("resource.nats.name", n.GetName(), "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
		}
		if seen[n.GetName()] {
			return errInvalid("Duplicate NAT name '" + n.GetName() + "'.")
		}
		seen[n.GetName()] = true
		if n.SourceSubnetworkIpRangesToNat == nil {
			return errInvalidField("resource.nats.sourceSubnetworkIpRangesToNat", "", "Must be specified.")
		}
		if n.NatIpAllocateOption == nil {
			return errInvalidField("resource.nats.natIpAllocateOption", "", "Must be specified.")
		}
		if lc := n.GetLogConfig(); lc != nil && lc.Filter != nil && !natLogFilters[lc.GetFilter()] {
			return errInvalidField("resource.nats.logConfig.filter", lc.GetFilter(), "Must be one of ALL, ERRORS_ONLY, TRANSLATIONS_ONLY.")
		}
	}
	return nil
}

// natLogFilters are RouterNatLogConfig.filter's values (routers API
// reference); unset means ALL.
var natLogFilters = map[string]bool{"ALL": true, "ERRORS_ONLY": true, "TRANSLATIONS_ONLY": true}

// getRouter returns one router.
func (s *Server) getRouter(c *call) (any, error) {
	m, err := s.get(c.key("routers", c.name))
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

// changeRouter patches (patch=true) or replaces a router, keeping its
// identity, network and region.
func (s *Server) changeRouter(c *call, patch bool) (target, error) {
	key := c.key("routers", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	cur := proto.Clone(m).(*computepb.Router)
	body := &computepb.Router{}
	if err := c.decode(body); err != nil {
		return target{}, err
	}
	next := cur
	if !patch {
		next = &computepb.Router{
			Name: cur.Name, Id: cur.Id, Kind: cur.Kind, SelfLink: cur.SelfLink,
			CreationTimestamp: cur.CreationTimestamp, Network: cur.Network, Region: cur.Region,
		}
	}
	if patch {
		if err := mergePatch(next, c.body, append(identity, "network", "region")...); err != nil {
			return target{}, err
		}
	} else {
		patchFields(next, body, append(identity, "network", "region")...)
	}
	if err := validateNats(next); err != nil {
		return target{}, err
	}
	fillNats(next)
	s.replace(key, next)
	return target{key: key, id: next.GetId()}, nil
}

// deleteRouter removes a router and its NAT configuration.
func (s *Server) deleteRouter(c *call) (target, error) {
	key := c.key("routers", c.name)
	id, err := s.remove(key)
	return target{key: key, id: id}, err
}

// Routers returns clones of the project's routers in region, sorted by
// name, for the emulated Cloud NAT and for tests.
func (s *Server) Routers(project, region string) []*computepb.Router {
	s.lock()
	defer s.mu.Unlock()
	prefix := "projects/" + project + "/regions/" + region + "/routers/"
	var out []*computepb.Router
	for _, k := range sortedKeys(s.objects) {
		if rt, ok := s.objects[k].(*computepb.Router); ok && strings.HasPrefix(k, prefix) {
			out = append(out, proto.Clone(rt).(*computepb.Router))
		}
	}
	return out
}
