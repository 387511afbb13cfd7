package compute

import (
	"fmt"
	"net/netip"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// mirroringRoutes registers the regional packetMirrorings collection
// (https://cloud.google.com/compute/docs/reference/rest/v1/packetMirrorings)
// and the regional forwardingRules its collector must be
// (https://cloud.google.com/compute/docs/reference/rest/v1/forwardingRules),
// the latter only as an internal passthrough load balancer's rule.
func (s *Server) mirroringRoutes() {
	s.handle("POST regions/forwardingRules", endpoint{method: "compute.forwardingRules.insert", mutate: s.insertForwardingRule})
	s.handle("GET regions/forwardingRules/{}", endpoint{method: "compute.forwardingRules.get", read: func(c *call) (any, error) {
		return s.getClone(c.key("forwardingRules", c.name))
	}})
	s.handle("GET regions/forwardingRules", endpoint{method: "compute.forwardingRules.list", read: func(c *call) (any, error) {
		return s.list(c, "forwardingRules", "compute#forwardingRuleList")
	}})
	s.handle("DELETE regions/forwardingRules/{}", endpoint{method: "compute.forwardingRules.delete", mutate: s.deleteForwardingRule})

	s.handle("POST regions/packetMirrorings", endpoint{method: "compute.packetMirrorings.insert", mutate: s.insertPacketMirroring})
	s.handle("GET regions/packetMirrorings/{}", endpoint{method: "compute.packetMirrorings.get", read: func(c *call) (any, error) {
		return s.getClone(c.key("packetMirrorings", c.name))
	}})
	s.handle("GET regions/packetMirrorings", endpoint{method: "compute.packetMirrorings.list", read: func(c *call) (any, error) {
		return s.list(c, "packetMirrorings", "compute#packetMirroringList")
	}})
	s.handle("PATCH regions/packetMirrorings/{}", endpoint{method: "compute.packetMirrorings.patch", mutate: s.patchPacketMirroring})
	s.handle("DELETE regions/packetMirrorings/{}", endpoint{method: "compute.packetMirrorings.delete", mutate: func(c *call) (target, error) {
		key := c.key("packetMirrorings", c.name)
		id, err := s.remove(key)
		return target{key: key, id: id}, err
	}})
}

// getClone returns a clone of the stored resource at key.
func (s *Server) getClone(key string) (any, error) {
	m, err := s.get(key)
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

// insertForwardingRule creates the forwarding rule of an internal
// passthrough Network Load Balancer (loadBalancingScheme INTERNAL), the
// only kind a packet mirroring takes as its collector. The API's rules
// kept: backendService is required for it; isMirroringCollector only
// with INTERNAL; a subnetwork is required on a custom-mode network, and
// names the network. Other schemes are refused (not emulated), and the
// backend service is not resolved (the emulator has none): see FIDELITY.md.
func (s *Server) insertForwardingRule(c *call) (target, error) {
	fr := &computepb.ForwardingRule{}
	if err := c.decode(fr); err != nil {
		return target{}, err
	}
	scheme := fr.GetLoadBalancingScheme()
	if scheme == "" {
		scheme = "EXTERNAL" // the API's default
	}
	if fr.GetIsMirroringCollector() && scheme != "INTERNAL" {
		return target{}, errInvalidField("resource.isMirroringCollector", "true", "Only a forwarding rule with loadBalancingScheme INTERNAL can be a mirroring collector.")
	}
	if scheme != "INTERNAL" {
		return target{}, errInvalidField("resource.loadBalancingScheme", scheme, "The emulated Compute API serves only INTERNAL forwarding rules (internal passthrough Network Load Balancers).")
	}
	bs := fr.GetBackendService()
	if bs == "" {
		return target{}, errInvalidField("resource.backendService", "", "A backend service is required for an internal passthrough Network Load Balancer.")
	}
	if want := c.scopePath() + "/backendServices/"; !strings.HasPrefix(link(c.project, bs), want) {
		return target{}, errInvalidField("resource.backendService", bs, "Must be a regional backend service of the forwarding rule's region.")
	}
	fr.BackendService = proto.String(selfLinkBase + link(c.project, bs))
	netKey, sub, err := s.forwardingRuleNetwork(c, fr)
	if err != nil {
		return target{}, err
	}
	fr.Network = proto.String(selfLinkBase + netKey)
	fr.Subnetwork = proto.String(sub.GetSelfLink())
	if fr.IPAddress == nil {
		if p, err := netip.ParsePrefix(sub.GetIpCidrRange()); err == nil {
			addr := p.Addr()
			for range 10 + s.seq%200 {
				addr = addr.Next()
			}
			fr.IPAddress = proto.String(addr.String())
		}
	}
	if fr.IPProtocol == nil {
		fr.IPProtocol = proto.String("TCP")
	}
	fr.LoadBalancingScheme = proto.String(scheme)
	fr.Region = proto.String(selfLinkBase + c.scopePath())
	key := c.key("forwardingRules", fr.GetName())
	id, err := s.create(key, "compute#forwardingRule", fr)
	return target{key: key, id: id}, err
}

// forwardingRuleNetwork resolves an internal forwarding rule's network
// and subnetwork: the subnetwork (of the rule's region) names the
// network; without one, the network must be in auto mode (the default
// network when none is named).
func (s *Server) forwardingRuleNetwork(c *call, fr *computepb.ForwardingRule) (string, *computepb.Subnetwork, error) {
	if ref := fr.GetSubnetwork(); ref != "" {
		sk := link(c.project, ref)
		sn, ok := s.objects[sk].(*computepb.Subnetwork)
		if !ok {
			return "", nil, errNotFound(sk)
		}
		if !strings.HasPrefix(sk, c.scopePath()+"/subnetworks/") {
			return "", nil, errInvalidField("resource.subnetwork", ref, "The subnetwork must be in the forwarding rule's region.")
		}
		nk := link(c.project, sn.GetNetwork())
		if fr.GetNetwork() != "" && link(c.project, fr.GetNetwork()) != nk {
			return "", nil, errInvalidField("resource.subnetwork", ref, "Subnetwork does not belong to the network.")
		}
		return nk, sn, nil
	}
	ref := fr.GetNetwork()
	if ref == "" {
		ref = "global/networks/default"
	}
	nk := link(c.project, ref)
	n, ok := s.objects[nk].(*computepb.Network)
	if !ok {
		return "", nil, errNotFound(nk)
	}
	if !n.GetAutoCreateSubnetworks() {
		return "", nil, errInvalidField("resource.subnetwork", "", "A subnetwork must be specified for a network in custom subnet mode.")
	}
	// An auto-mode network's subnetworks are not created by the emulator
	// (FIDELITY.md): there is none to take the address from.
	return "", nil, errInvalidField("resource.subnetwork", "", "Name the subnetwork: the emulated Compute API creates no auto-mode subnetworks.")
}

// deleteForwardingRule removes a forwarding rule no packet mirroring
// uses as its collector.
func (s *Server) deleteForwardingRule(c *call) (target, error) {
	key := c.key("forwardingRules", c.name)
	if _, err := s.get(key); err != nil {
		return target{}, err
	}
	for _, k := range s.children(c.key("packetMirrorings", "")) {
		if pm := s.objects[k].(*computepb.PacketMirroring); link(c.project, pm.GetCollectorIlb().GetUrl()) == key {
			return target{}, errInUse("forwarding rule", key, k)
		}
	}
	id, err := s.remove(key)
	return target{key: key, id: id}, err
}

// insertPacketMirroring creates a packet mirroring: the traffic of the
// mirrored instances, subnetworks and tags of one network goes to an
// internal load balancer's collector.
func (s *Server) insertPacketMirroring(c *call) (target, error) {
	pm := &computepb.PacketMirroring{}
	if err := c.decode(pm); err != nil {
		return target{}, err
	}
	ref := pm.GetNetwork().GetUrl()
	if ref == "" {
		return target{}, errInvalidField("resource.network.url", "", "The network to mirror is required.")
	}
	nk := link(c.project, ref)
	if _, ok := s.objects[nk].(*computepb.Network); !ok {
		return target{}, errNotFound(nk)
	}
	pm.Network = &computepb.PacketMirroringNetworkInfo{Url: proto.String(selfLinkBase + nk)}
	if pm.Priority == nil {
		pm.Priority = proto.Uint32(1000)
	}
	if pm.Enable == nil {
		pm.Enable = proto.String("TRUE")
	}
	pm.Region = proto.String(selfLinkBase + c.scopePath())
	if err := s.validateMirroring(c, pm); err != nil {
		return target{}, err
	}
	key := c.key("packetMirrorings", pm.GetName())
	id, err := s.create(key, "compute#packetMirroring", pm)
	return target{key: key, id: id}, err
}

// patchPacketMirroring applies a JSON merge patch. The network cannot
// change (not documented: the stricter choice, FIDELITY.md); whatever
// the patch leaves is validated as on insert.
func (s *Server) patchPacketMirroring(c *call) (target, error) {
	key := c.key("packetMirrorings", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	cur := proto.Clone(m).(*computepb.PacketMirroring)
	body := &computepb.PacketMirroring{}
	if err := c.decode(body); err != nil {
		return target{}, err
	}
	if u := body.GetNetwork().GetUrl(); u != "" && link(c.project, u) != link(c.project, cur.GetNetwork().GetUrl()) {
		return target{}, errInvalidField("resource.network", u, "The network of a packet mirroring cannot be changed.")
	}
	if err := mergePatch(cur, c.body, append(identity, "network", "region")...); err != nil {
		return target{}, err
	}
	if err := s.validateMirroring(c, cur); err != nil {
		return target{}, err
	}
	s.replace(key, cur)
	return target{key: key, id: cur.GetId()}, nil
}

// validateMirroring checks a packet mirroring (its network already
// resolved) as the API documents it and fills its references' full URLs:
// the collector is an INTERNAL forwarding rule with isMirroringCollector
// of the same region; something is mirrored; mirrored instances live in
// the region's zones with an interface in the network, mirrored
// subnetworks (at most 5) in the region and the network; enable is TRUE
// or FALSE, priority 0 to 65535, direction INGRESS, EGRESS or BOTH.
func (s *Server) validateMirroring(c *call, pm *computepb.PacketMirroring) error {
	netURL := pm.GetNetwork().GetUrl()
	ref := pm.GetCollectorIlb().GetUrl()
	if ref == "" {
		return errInvalidField("resource.collectorIlb.url", "", "The collector (an internal load balancer's forwarding rule) is required.")
	}
	fk := link(c.project, ref)
	fr, ok := s.objects[fk].(*computepb.ForwardingRule)
	if !ok {
		return errNotFound(fk)
	}
	if !strings.HasPrefix(fk, c.scopePath()+"/forwardingRules/") {
		return errInvalidField("resource.collectorIlb.url", ref, "The collector must be in the packet mirroring's region.")
	}
	if fr.GetLoadBalancingScheme() != "INTERNAL" || !fr.GetIsMirroringCollector() {
		return errInvalidField("resource.collectorIlb.url", ref, "The collector must be an INTERNAL forwarding rule with isMirroringCollector set to true.")
	}
	pm.CollectorIlb = &computepb.PacketMirroringForwardingRuleInfo{Url: proto.String(selfLinkBase + fk)}
	mr := pm.GetMirroredResources()
	if len(mr.GetInstances()) == 0 && len(mr.GetSubnetworks()) == 0 && len(mr.GetTags()) == 0 {
		return errInvalidField("resource.mirroredResources", "", "At least one instance, subnetwork or tag must be mirrored.")
	}
	if len(mr.GetSubnetworks()) > 5 {
		return errInvalidField("resource.mirroredResources.subnetworks", fmt.Sprint(len(mr.GetSubnetworks())), "At most 5 subnetworks may be mirrored.")
	}
	for _, in := range mr.GetInstances() {
		ik := link(c.project, in.GetUrl())
		inst, ok := s.objects[ik].(*computepb.Instance)
		if !ok {
			return errNotFound(ik)
		}
		if !strings.HasPrefix(ik, "projects/"+c.project+"/zones/"+c.loc+"-") {
			return errInvalidField("resource.mirroredResources.instances", in.GetUrl(), "A mirrored instance must be in a zone of the packet mirroring's region.")
		}
		onNet := false
		for _, ni := range inst.GetNetworkInterfaces() {
			onNet = onNet || ni.GetNetwork() == netURL
		}
		if !onNet {
			return errInvalidField("resource.mirroredResources.instances", in.GetUrl(), "A mirrored instance must have a network interface in the mirrored network.")
		}
		in.Url = proto.String(selfLinkBase + ik)
	}
	for _, sn := range mr.GetSubnetworks() {
		sk := link(c.project, sn.GetUrl())
		sub, ok := s.objects[sk].(*computepb.Subnetwork)
		if !ok {
			return errNotFound(sk)
		}
		if !strings.HasPrefix(sk, c.scopePath()+"/subnetworks/") || sub.GetNetwork() != netURL {
			return errInvalidField("resource.mirroredResources.subnetworks", sn.GetUrl(), "A mirrored subnetwork must be in the packet mirroring's region and network.")
		}
		sn.Url = proto.String(selfLinkBase + sk)
	}
	if e := pm.GetEnable(); e != "TRUE" && e != "FALSE" {
		return errInvalidField("resource.enable", e, "Must be TRUE or FALSE.")
	}
	if p := pm.GetPriority(); p > 65535 {
		return errInvalidField("resource.priority", fmt.Sprint(p), "Must be between 0 and 65535.")
	}
	if f := pm.GetFilter(); f != nil {
		if f.Direction == nil {
			f.Direction = proto.String("BOTH")
		}
		if d := f.GetDirection(); d != "INGRESS" && d != "EGRESS" && d != "BOTH" {
			return errInvalidField("resource.filter.direction", d, "Must be INGRESS, EGRESS or BOTH.")
		}
	}
	return nil
}
