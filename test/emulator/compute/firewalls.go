package compute

import (
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// firewallRoutes registers the global firewalls collection.
func (s *Server) firewallRoutes() {
	s.handle("POST global/firewalls", endpoint{method: "compute.firewalls.insert", mutate: s.insertFirewall})
	s.handle("GET global/firewalls/{}", endpoint{method: "compute.firewalls.get", read: s.getFirewall})
	s.handle("GET global/firewalls", endpoint{method: "compute.firewalls.list", read: func(c *call) (any, error) {
		return s.list(c, "firewalls", "compute#firewallList")
	}})
	s.handle("PATCH global/firewalls/{}", endpoint{method: "compute.firewalls.patch", mutate: s.patchFirewall})
	s.handle("PUT global/firewalls/{}", endpoint{method: "compute.firewalls.update", mutate: s.updateFirewall})
	s.handle("DELETE global/firewalls/{}", endpoint{method: "compute.firewalls.delete", mutate: s.deleteFirewall})
}

// insertFirewall creates a rule on an existing network with the API's
// defaults (network default, INGRESS, priority 1000).
func (s *Server) insertFirewall(c *call) (target, error) {
	fw := &computepb.Firewall{}
	if err := c.decode(fw); err != nil {
		return target{}, err
	}
	if !rfc1035.MatchString(fw.GetName()) {
		return target{}, errInvalidField("resource.name", fw.GetName(), "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	if fw.Network == nil {
		fw.Network = proto.String("global/networks/default")
	}
	if err := s.normalizeFirewall(c, fw); err != nil {
		return target{}, err
	}
	key := c.key("firewalls", fw.GetName())
	id, err := s.create(key, "compute#firewall", fw)
	return target{key: key, id: id}, err
}

// normalizeFirewall applies defaults and checks what the API checks.
func (s *Server) normalizeFirewall(c *call, fw *computepb.Firewall) error {
	netURL, err := s.requireNetwork(c.project, fw.GetNetwork())
	if err != nil {
		return err
	}
	fw.Network = proto.String(netURL)
	if fw.Direction == nil {
		fw.Direction = proto.String("INGRESS")
	}
	if d := fw.GetDirection(); d != "INGRESS" && d != "EGRESS" {
		return errInvalidField("resource.direction", d, "Must be INGRESS or EGRESS.")
	}
	if fw.Priority == nil {
		fw.Priority = proto.Int32(1000)
	}
	if p := fw.GetPriority(); p < 0 || p > 65535 {
		return errInvalidField("resource.priority", strconv.Itoa(int(p)), "Must be between 0 and 65535.")
	}
	if (len(fw.GetAllowed()) == 0) == (len(fw.GetDenied()) == 0) {
		return errInvalid("Invalid value for field 'resource': exactly one of 'allowed' or 'denied' must be specified.")
	}
	if fw.GetDirection() == "INGRESS" && len(fw.GetSourceRanges()) == 0 && len(fw.GetSourceTags()) == 0 && len(fw.GetSourceServiceAccounts()) == 0 {
		fw.SourceRanges = []string{"0.0.0.0/0"}
	}
	if fw.GetDirection() == "EGRESS" && len(fw.GetDestinationRanges()) == 0 {
		fw.DestinationRanges = []string{"0.0.0.0/0"}
	}
	if fw.Disabled == nil {
		fw.Disabled = proto.Bool(false)
	}
	return nil
}

// getFirewall returns one rule.
func (s *Server) getFirewall(c *call) (any, error) {
	m, err := s.get(c.key("firewalls", c.name))
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

// patchFirewall changes the fields the body sets; a rule's network is fixed.
func (s *Server) patchFirewall(c *call) (target, error) {
	return s.changeFirewall(c, true)
}

// updateFirewall replaces the rule with the body, keeping identity.
func (s *Server) updateFirewall(c *call) (target, error) {
	return s.changeFirewall(c, false)
}

func (s *Server) changeFirewall(c *call, patch bool) (target, error) {
	key := c.key("firewalls", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	cur := proto.Clone(m).(*computepb.Firewall)
	body := &computepb.Firewall{}
	if err := c.decode(body); err != nil {
		return target{}, err
	}
	if body.Network != nil && link(c.project, body.GetNetwork()) != link(c.project, cur.GetNetwork()) {
		return target{}, errInvalidField("resource.network", body.GetNetwork(), "The network of a firewall rule cannot be changed.")
	}
	next := cur
	if !patch {
		next = &computepb.Firewall{
			Name: cur.Name, Id: cur.Id, Kind: cur.Kind, SelfLink: cur.SelfLink,
			CreationTimestamp: cur.CreationTimestamp, Network: cur.Network,
		}
	}
	if patch {
		if err := mergePatch(next, c.body, append(identity, "network")...); err != nil {
			return target{}, err
		}
	} else {
		patchFields(next, body, append(identity, "network")...)
	}
	if err := s.normalizeFirewall(c, next); err != nil {
		return target{}, err
	}
	s.replace(key, next)
	return target{key: key, id: next.GetId()}, nil
}

// deleteFirewall removes a rule.
func (s *Server) deleteFirewall(c *call) (target, error) {
	key := c.key("firewalls", c.name)
	id, err := s.remove(key)
	return target{key: key, id: id}, err
}

// Firewalls returns clones of the project's firewall rules, sorted by name,
// for tests to inspect.
func (s *Server) Firewalls(project string) []*computepb.Firewall {
	s.lock()
	defer s.mu.Unlock()
	var out []*computepb.Firewall
	for _, k := range s.children("projects/" + project + "/global/firewalls/") {
		out = append(out, proto.Clone(s.objects[k]).(*computepb.Firewall))
	}
	return out
}
