package compute

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// vpcRouteRoutes registers the global routes collection: a network's
// static routes (https://cloud.google.com/compute/docs/reference/rest/v1/routes).
func (s *Server) vpcRouteRoutes() {
	s.handle("POST global/routes", endpoint{method: "compute.routes.insert", mutate: s.insertRoute})
	s.handle("GET global/routes/{}", endpoint{method: "compute.routes.get", read: func(c *call) (any, error) {
		m, err := s.get(c.key("routes", c.name))
		if err != nil {
			return nil, err
		}
		return proto.Clone(m), nil
	}})
	s.handle("GET global/routes", endpoint{method: "compute.routes.list", read: func(c *call) (any, error) {
		return s.list(c, "routes", "compute#routeList")
	}})
	s.handle("DELETE global/routes/{}", endpoint{method: "compute.routes.delete", mutate: func(c *call) (target, error) {
		key := c.key("routes", c.name)
		id, err := s.remove(key)
		delete(s.systemRoutes, key)
		return target{key: key, id: id}, err
	}})
}

// insertRoute creates a static route on an existing network: destRange a
// CIDR, exactly one next hop, priority 1000 unless set (0–65535), and the
// network and a gateway next hop stored as full URLs.
func (s *Server) insertRoute(c *call) (target, error) {
	r := &computepb.Route{}
	if err := c.decode(r); err != nil {
		return target{}, err
	}
	netURL, err := s.requireNetwork(c.project, r.GetNetwork())
	if err != nil {
		return target{}, err
	}
	r.Network = proto.String(netURL)
	if _, err := netip.ParsePrefix(r.GetDestRange()); err != nil {
		return target{}, errInvalidField("resource.destRange", r.GetDestRange(), "Must be a CIDR range.")
	}
	hops := 0
	for _, h := range []*string{r.NextHopGateway, r.NextHopInstance, r.NextHopIp, r.NextHopNetwork, r.NextHopVpnTunnel, r.NextHopIlb} {
		if h != nil && *h != "" {
			hops++
		}
	}
	if hops != 1 {
		return target{}, errInvalid("Invalid value for field 'resource': exactly one next hop must be specified.")
	}
	if gw := r.GetNextHopGateway(); gw != "" {
		r.NextHopGateway = proto.String(selfLinkBase + link(c.project, gw))
	}
	if r.Priority == nil {
		r.Priority = proto.Uint32(1000)
	}
	if p := r.GetPriority(); p > 65535 {
		return target{}, errInvalidField("resource.priority", strconv.Itoa(int(p)), "Must be between 0 and 65535.")
	}
	key := c.key("routes", r.GetName())
	id, err := s.create(key, "compute#route", r)
	return target{key: key, id: id}, err
}

// defaultRouteDescription is the description GCP gives a network's
// system-generated default route.
const defaultRouteDescription = "Default route to the Internet."

// addDefaultRoute gives the new network at netKey the route GCP creates
// with every VPC network: 0.0.0.0/0 to the default internet gateway,
// priority 1000, named default-route-<16 hex digits>
// (https://cloud.google.com/vpc/docs/routes, system-generated default
// route; its fields as a recorded list shows them). It writes no audit
// entry of its own: it is part of networks.insert.
func (s *Server) addDefaultRoute(project, netKey string) {
	name := fmt.Sprintf("default-route-%016x", newID(netKey+"#default-route#"+strconv.FormatUint(s.created[netKey], 10)))
	key := "projects/" + project + "/global/routes/" + name
	r := &computepb.Route{
		Name:           proto.String(name),
		Description:    proto.String(defaultRouteDescription),
		Network:        proto.String(selfLinkBase + netKey),
		DestRange:      proto.String("0.0.0.0/0"),
		NextHopGateway: proto.String(selfLinkBase + "projects/" + project + "/global/gateways/default-internet-gateway"),
		Priority:       proto.Uint32(1000),
	}
	if _, err := s.create(key, "compute#route", r); err == nil {
		s.systemRoutes[key] = true
	}
}

// removeSystemRoutes deletes the system-generated routes of the network
// at netKey, which go with it: a network whose only route left is its
// default route is deleted without deleting that route first.
func (s *Server) removeSystemRoutes(netKey string) {
	for key := range s.systemRoutes {
		if r, ok := s.objects[key].(*computepb.Route); ok && strings.HasSuffix(r.GetNetwork(), "/"+netKey) {
			delete(s.objects, key)
			delete(s.systemRoutes, key)
		}
	}
}
