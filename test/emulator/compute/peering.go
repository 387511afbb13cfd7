package compute

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// peeringRoutes registers networks.addPeering and networks.removePeering
// (https://cloud.google.com/compute/docs/reference/rest/v1/networks/addPeering,
// https://cloud.google.com/compute/docs/reference/rest/v1/networks/removePeering).
func (s *Server) peeringRoutes() {
	s.handle("POST global/networks/{}/addPeering", endpoint{method: "compute.networks.addPeering", mutate: s.addPeering})
	s.handle("POST global/networks/{}/removePeering", endpoint{method: "compute.networks.removePeering", mutate: s.removePeering})
	s.handle("PATCH global/networks/{}/updatePeering", endpoint{method: "compute.networks.updatePeering", mutate: s.updatePeering})
}

// addPeering adds a peering to the network, named by the body's
// networkPeering (or its older top-level name and peerNetwork). The peer
// network must exist (the emulator knows only its own projects: stricter
// than GCP for a peer elsewhere). A peering is INACTIVE until the peer
// network has a matching peering back, then both sides are ACTIVE
// (https://cloud.google.com/vpc/docs/vpc-peering).
func (s *Server) addPeering(c *call) (target, error) {
	key := c.key("networks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	var req computepb.NetworksAddPeeringRequest
	if err := c.decode(&req); err != nil {
		return target{}, err
	}
	p := proto.Clone(req.GetNetworkPeering()).(*computepb.NetworkPeering)
	if req.NetworkPeering == nil {
		p = &computepb.NetworkPeering{Name: req.Name, Network: req.PeerNetwork, AutoCreateRoutes: req.AutoCreateRoutes}
	}
	if !rfc1035.MatchString(p.GetName()) {
		return target{}, errInvalidField("networkPeering.name", p.GetName(), "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	peerURL, err := s.requireNetwork(c.project, p.GetNetwork())
	if err != nil {
		return target{}, err
	}
	self := selfLinkBase + key
	if peerURL == self {
		return target{}, errInvalidField("networkPeering.network", p.GetNetwork(), "A network cannot peer with itself.")
	}
	n := proto.Clone(m).(*computepb.Network)
	for _, q := range n.GetPeerings() {
		if q.GetName() == p.GetName() || q.GetNetwork() == peerURL {
			return target{}, errAlreadyExists(key + "/peerings/" + q.GetName())
		}
	}
	p.Network = proto.String(peerURL)
	p.ExchangeSubnetRoutes = proto.Bool(true)
	p.AutoCreateRoutes = proto.Bool(true)
	if p.StackType == nil {
		p.StackType = proto.String("IPV4_ONLY")
	}
	p.State = proto.String("INACTIVE")
	p.StateDetails = proto.String("[" + timestamp(s.now()) + "]: Waiting for peer network to connect.")
	peerKey := link(c.project, peerURL)
	peer := proto.Clone(s.objects[peerKey]).(*computepb.Network)
	for _, q := range peer.GetPeerings() {
		if q.GetNetwork() == self {
			p.State, q.State = proto.String("ACTIVE"), proto.String("ACTIVE")
			p.StateDetails, q.StateDetails = proto.String("["+timestamp(s.now())+"]: Connected."), proto.String("["+timestamp(s.now())+"]: Connected.")
			s.replace(peerKey, peer)
		}
	}
	n.Peerings = append(n.Peerings, p)
	s.replace(key, n)
	return target{key: key, id: n.GetId()}, nil
}

// removePeering removes the named peering; the peer's side, if any, goes
// INACTIVE.
func (s *Server) removePeering(c *call) (target, error) {
	key := c.key("networks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	var req computepb.NetworksRemovePeeringRequest
	if err := c.decode(&req); err != nil {
		return target{}, err
	}
	n := proto.Clone(m).(*computepb.Network)
	for i, p := range n.GetPeerings() {
		if p.GetName() != req.GetName() {
			continue
		}
		n.Peerings = append(n.Peerings[:i], n.Peerings[i+1:]...)
		s.replace(key, n)
		peerKey := link(c.project, p.GetNetwork())
		if pm, ok := s.objects[peerKey].(*computepb.Network); ok {
			peer := proto.Clone(pm).(*computepb.Network)
			for _, q := range peer.GetPeerings() {
				if q.GetNetwork() == selfLinkBase+key {
					q.State = proto.String("INACTIVE")
					q.StateDetails = proto.String("[" + timestamp(s.now()) + "]: Peer network disconnected.")
				}
			}
			s.replace(peerKey, peer)
		}
		return target{key: key, id: n.GetId()}, nil
	}
	return target{}, errNotFoundMsg("The peering '" + req.GetName() + "' was not found on network '" + key + "'")
}

// updatePeering changes the named peering of the network: only its
// exportCustomRoutes and importCustomRoutes, the two fields the reference
// says may be modified; the body's other fields are left as they are. A
// peering the network does not have is NOT_FOUND.
func (s *Server) updatePeering(c *call) (target, error) {
	key := c.key("networks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	var req computepb.NetworksUpdatePeeringRequest
	if err := c.decode(&req); err != nil {
		return target{}, err
	}
	in := req.GetNetworkPeering()
	if in.GetName() == "" {
		return target{}, errInvalidField("networkPeering.name", "", "Required field 'networkPeering.name' not specified")
	}
	n := proto.Clone(m).(*computepb.Network)
	for _, p := range n.GetPeerings() {
		if p.GetName() != in.GetName() {
			continue
		}
		if in.ExportCustomRoutes != nil {
			p.ExportCustomRoutes = proto.Bool(in.GetExportCustomRoutes())
		}
		if in.ImportCustomRoutes != nil {
			p.ImportCustomRoutes = proto.Bool(in.GetImportCustomRoutes())
		}
		s.replace(key, n)
		return target{key: key, id: n.GetId()}, nil
	}
	return target{}, errNotFoundMsg("The peering '" + in.GetName() + "' was not found on network '" + key + "'")
}
