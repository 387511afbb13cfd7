package compute

import (
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// accessConfigRoutes registers instances.addAccessConfig
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/addAccessConfig):
// it gives a network interface an external address.
func (s *Server) accessConfigRoutes() {
	s.handle("POST zones/instances/{}/addAccessConfig", endpoint{method: "compute.instances.addAccessConfig", mutate: s.addAccessConfig})
}

// addAccessConfig adds the body's access config to the interface the
// networkInterface query parameter names. GCP supports one access config
// per interface ("At most one access config currently supported") and
// only ONE_TO_ONE_NAT for IPv4; without natIP an ephemeral address is
// assigned (here from 203.0.113.0/24, a documentation range).
func (s *Server) addAccessConfig(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	nicName := c.query("networkInterface")
	if nicName == "" {
		return target{}, errInvalid("Required parameter networkInterface is missing.")
	}
	ac := &computepb.AccessConfig{}
	if err := c.decode(ac); err != nil {
		return target{}, err
	}
	if t := ac.GetType(); t != "" && t != "ONE_TO_ONE_NAT" {
		return target{}, errInvalidField("resource.type", t, "Only ONE_TO_ONE_NAT is supported for an IPv4 access config.")
	}
	for _, nic := range inst.GetNetworkInterfaces() {
		if nic.GetName() != nicName {
			continue
		}
		if len(nic.GetAccessConfigs()) > 0 {
			return target{}, errInvalid("At most one access config currently supported.")
		}
		ac.Type = proto.String("ONE_TO_ONE_NAT")
		ac.Kind = proto.String("compute#accessConfig")
		if ac.GetName() == "" {
			ac.Name = proto.String("External NAT")
		}
		if ac.GetNatIP() == "" {
			ac.NatIP = proto.String(fmt.Sprintf("203.0.113.%d", 1+inst.GetId()%254))
		}
		nic.AccessConfigs = append(nic.AccessConfigs, ac)
		s.replace(key, inst)
		return target{key: key, id: inst.GetId()}, nil
	}
	return target{}, errInvalidField("networkInterface", nicName, "No network interface of the instance has this name.")
}
