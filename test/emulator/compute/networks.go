package compute

import (
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// networkRoutes registers the global networks collection.
func (s *Server) networkRoutes() {
	s.handle("POST global/networks", endpoint{method: "compute.networks.insert", mutate: s.insertNetwork})
	s.handle("GET global/networks/{}", endpoint{method: "compute.networks.get", read: s.getNetwork})
	s.handle("GET global/networks", endpoint{method: "compute.networks.list", read: func(c *call) (any, error) {
		return s.list(c, "networks", "compute#networkList")
	}})
	s.handle("DELETE global/networks/{}", endpoint{method: "compute.networks.delete", mutate: s.deleteNetwork})
	s.handle("POST global/networks/{}/switchToCustomMode", endpoint{method: "compute.networks.switchToCustomMode", mutate: s.switchToCustomMode})
}

// insertNetwork creates a VPC network. Auto-mode subnetworks are not
// created: sandboxes use custom-mode networks.
func (s *Server) insertNetwork(c *call) (target, error) {
	n := &computepb.Network{}
	if err := c.decode(n); err != nil {
		return target{}, err
	}
	if n.RoutingConfig == nil {
		n.RoutingConfig = &computepb.NetworkRoutingConfig{RoutingMode: proto.String("REGIONAL")}
	}
	if n.Mtu == nil {
		n.Mtu = proto.Int32(1460)
	}
	n.Subnetworks = nil
	key := c.key("networks", n.GetName())
	id, err := s.create(key, "compute#network", n)
	if err != nil {
		return target{}, err
	}
	s.addDefaultRoute(c.project, key)
	return target{key: key, id: id}, nil
}

// switchToCustomMode turns an auto-mode network into a custom-mode one,
// keeping its subnetworks; the switch is one-way. The API's answer for a
// network already in custom mode is not documented: the emulator refuses
// it with a 400, the stricter choice.
func (s *Server) switchToCustomMode(c *call) (target, error) {
	key := c.key("networks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	n := proto.Clone(m).(*computepb.Network)
	if !n.GetAutoCreateSubnetworks() {
		return target{}, errInvalid(fmt.Sprintf("Network '%s' is not in auto subnet mode.", key))
	}
	n.AutoCreateSubnetworks = proto.Bool(false)
	s.replace(key, n)
	return target{key: key, id: n.GetId()}, nil
}

// getNetwork returns one network.
func (s *Server) getNetwork(c *call) (any, error) {
	m, err := s.get(c.key("networks", c.name))
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

// deleteNetwork removes a network nothing uses any more; like the real API
// it refuses while subnetworks, firewalls, routers, static routes or
// instances refer to it.
func (s *Server) deleteNetwork(c *call) (target, error) {
	key := c.key("networks", c.name)
	if _, err := s.get(key); err != nil {
		return target{}, err
	}
	if user := s.networkUser(key); user != "" {
		return target{}, errInUse("network", key, user)
	}
	s.removeSystemRoutes(key)
	id, err := s.remove(key)
	return target{key: key, id: id}, err
}

// requireNetwork resolves a network reference and checks it exists; it
// returns the network's full URL, the form the API stores references in.
func (s *Server) requireNetwork(project, ref string) (string, error) {
	if ref == "" {
		return "", errInvalidField("resource.network", ref, "The referenced network resource cannot be found.")
	}
	key := link(project, ref)
	if _, ok := s.objects[key].(*computepb.Network); !ok {
		return "", errNotFound(key)
	}
	return selfLinkBase + key, nil
}

// networkUser names a resource that refers to the network at key, or "".
func (s *Server) networkUser(key string) string {
	url := selfLinkBase + key
	for _, k := range sortedKeys(s.objects) {
		var refs []string
		switch m := s.objects[k].(type) {
		case *computepb.Subnetwork:
			refs = []string{m.GetNetwork()}
		case *computepb.Firewall:
			refs = []string{m.GetNetwork()}
		case *computepb.Router:
			refs = []string{m.GetNetwork()}
		case *computepb.Route:
			if !s.systemRoutes[k] {
				refs = []string{m.GetNetwork()}
			}
		case *computepb.ForwardingRule:
			refs = []string{m.GetNetwork()}
		case *computepb.PacketMirroring:
			refs = []string{m.GetNetwork().GetUrl()}
		case *computepb.Instance:
			for _, ni := range m.GetNetworkInterfaces() {
				refs = append(refs, ni.GetNetwork())
			}
		}
		for _, r := range refs {
			if r == url || strings.HasSuffix(url, "/"+strings.TrimPrefix(r, "/")) {
				return selfLinkBase + k
			}
		}
	}
	return ""
}

// Network returns a clone of a network, for tests to inspect.
func (s *Server) Network(project, name string) (*computepb.Network, bool) {
	s.lock()
	defer s.mu.Unlock()
	n, ok := s.objects["projects/"+project+"/global/networks/"+name].(*computepb.Network)
	if !ok {
		return nil, false
	}
	return proto.Clone(n).(*computepb.Network), true
}
