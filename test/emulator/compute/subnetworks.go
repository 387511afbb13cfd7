package compute

import (
	"fmt"
	"net/netip"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// subnetworkRoutes registers the regional subnetworks collection.
func (s *Server) subnetworkRoutes() {
	s.handle("POST regions/subnetworks", endpoint{method: "compute.subnetworks.insert", mutate: s.insertSubnetwork})
	s.handle("GET regions/subnetworks/{}", endpoint{method: "compute.subnetworks.get", read: s.getSubnetwork})
	s.handle("GET regions/subnetworks", endpoint{method: "compute.subnetworks.list", read: func(c *call) (any, error) {
		return s.list(c, "subnetworks", "compute#subnetworkList")
	}})
	s.handle("PATCH regions/subnetworks/{}", endpoint{method: "compute.subnetworks.patch", mutate: s.patchSubnetwork})
	s.handle("DELETE regions/subnetworks/{}", endpoint{method: "compute.subnetworks.delete", mutate: s.deleteSubnetwork})
	s.handle("POST regions/subnetworks/{}/setPrivateIpGoogleAccess", endpoint{method: "compute.subnetworks.setPrivateIpGoogleAccess", mutate: s.setPrivateIpGoogleAccess})
}

// insertSubnetwork creates a subnetwork in an existing network, refusing a
// range that overlaps another subnetwork of the same network.
func (s *Server) insertSubnetwork(c *call) (target, error) {
	sn := &computepb.Subnetwork{}
	if err := c.decode(sn); err != nil {
		return target{}, err
	}
	if !rfc1035.MatchString(sn.GetName()) {
		return target{}, errInvalidField("resource.name", sn.GetName(), "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	netURL, err := s.requireNetwork(c.project, sn.GetNetwork())
	if err != nil {
		return target{}, err
	}
	prefix, err := netip.ParsePrefix(sn.GetIpCidrRange())
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return target{}, errInvalidField("resource.ipCidrRange", sn.GetIpCidrRange(), "Invalid IPCidrRange.")
	}
	for _, k := range sortedKeys(s.objects) {
		other, ok := s.objects[k].(*computepb.Subnetwork)
		if !ok || other.GetNetwork() != netURL {
			continue
		}
		if p, err := netip.ParsePrefix(other.GetIpCidrRange()); err == nil && p.Overlaps(prefix) {
			return target{}, errInvalid(fmt.Sprintf("Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.",
				prefix, other.GetName(), other.GetRegion()[strings.LastIndex(other.GetRegion(), "/")+1:]))
		}
	}
	sn.Network = proto.String(netURL)
	sn.Region = proto.String(selfLinkBase + c.scopePath())
	sn.GatewayAddress = proto.String(prefix.Addr().Next().String())
	if sn.StackType == nil {
		sn.StackType = proto.String("IPV4_ONLY")
	}
	// What a recorded get shows of a subnet inserted without them.
	if sn.PrivateIpGoogleAccess == nil {
		sn.PrivateIpGoogleAccess = proto.Bool(false)
	}
	if sn.Purpose == nil {
		sn.Purpose = proto.String("PRIVATE")
	}
	if sn.PrivateIpv6GoogleAccess == nil {
		sn.PrivateIpv6GoogleAccess = proto.String("DISABLE_GOOGLE_ACCESS")
	}
	sn.Fingerprint = proto.String(s.fingerprint(sn.GetName()))
	key := c.key("subnetworks", sn.GetName())
	id, err := s.create(key, "compute#subnetwork", sn)
	if err != nil {
		return target{}, err
	}
	s.linkSubnetwork(netURL, selfLinkBase+key, true)
	return target{key: key, id: id}, nil
}

// linkSubnetwork keeps the network's subnetworks list in step, as the
// real API reports it.
func (s *Server) linkSubnetwork(netURL, subURL string, add bool) {
	key := strings.TrimPrefix(netURL, selfLinkBase)
	n, ok := s.objects[key].(*computepb.Network)
	if !ok {
		return
	}
	n = proto.Clone(n).(*computepb.Network)
	var subs []string
	for _, u := range n.GetSubnetworks() {
		if u != subURL {
			subs = append(subs, u)
		}
	}
	if add {
		subs = append(subs, subURL)
	}
	n.Subnetworks = subs
	s.replace(key, n)
}

// getSubnetwork returns one subnetwork.
func (s *Server) getSubnetwork(c *call) (any, error) {
	m, err := s.get(c.key("subnetworks", c.name))
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

// patchSubnetwork changes mutable fields; like the real API it needs the
// current fingerprint and answers 412 for a stale one.
func (s *Server) patchSubnetwork(c *call) (target, error) {
	key := c.key("subnetworks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	cur := proto.Clone(m).(*computepb.Subnetwork)
	patch := &computepb.Subnetwork{}
	if err := c.decode(patch); err != nil {
		return target{}, err
	}
	if patch.GetFingerprint() != cur.GetFingerprint() {
		return target{}, errConditionNotMet("Supplied fingerprint does not match current subnetwork fingerprint.")
	}
	if err := mergePatch(cur, c.body, append(identity, "network", "region", "ip_cidr_range", "gateway_address", "fingerprint")...); err != nil {
		return target{}, err
	}
	cur.Fingerprint = proto.String(s.fingerprint(key))
	s.replace(key, cur)
	return target{key: key, id: cur.GetId()}, nil
}

// deleteSubnetwork removes a subnetwork no instance uses.
func (s *Server) deleteSubnetwork(c *call) (target, error) {
	key := c.key("subnetworks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	url := selfLinkBase + key
	for _, k := range sortedKeys(s.objects) {
		if inst, ok := s.objects[k].(*computepb.Instance); ok {
			for _, ni := range inst.GetNetworkInterfaces() {
				if ni.GetSubnetwork() == url {
					return target{}, errInUse("subnetwork", key, selfLinkBase+k)
				}
			}
		}
	}
	s.linkSubnetwork(m.(*computepb.Subnetwork).GetNetwork(), url, false)
	id, err := s.remove(key)
	return target{key: key, id: id}, err
}

// setPrivateIpGoogleAccess turns Private Google Access on or off. Unlike
// patch it takes no fingerprint; the subnetwork gets a new one, as any
// change of it does.
func (s *Server) setPrivateIpGoogleAccess(c *call) (target, error) {
	key := c.key("subnetworks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	req := &computepb.SubnetworksSetPrivateIpGoogleAccessRequest{}
	if err := c.decode(req); err != nil {
		return target{}, err
	}
	cur := proto.Clone(m).(*computepb.Subnetwork)
	cur.PrivateIpGoogleAccess = proto.Bool(req.GetPrivateIpGoogleAccess())
	cur.Fingerprint = proto.String(s.fingerprint(key))
	s.replace(key, cur)
	return target{key: key, id: cur.GetId()}, nil
}
