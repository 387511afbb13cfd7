package compute

import (
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// interfaceUpdateRoutes registers instances.updateAccessConfig
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/updateAccessConfig)
// and instances.updateNetworkInterface
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/updateNetworkInterface):
// an interface's external address changed, its network or alias ranges
// changed.
func (s *Server) interfaceUpdateRoutes() {
	s.handle("POST zones/instances/{}/updateAccessConfig", endpoint{method: "compute.instances.updateAccessConfig", mutate: s.updateAccessConfig})
	s.handle("PATCH zones/instances/{}/updateNetworkInterface", endpoint{method: "compute.instances.updateNetworkInterface", mutate: s.updateNetworkInterface})
}

// nicOf returns the index of the interface the networkInterface query
// parameter names, or an error as addAccessConfig answers it.
func nicOf(c *call, inst *computepb.Instance) (int, error) {
	name := c.query("networkInterface")
	if name == "" {
		return 0, errInvalid("Required parameter networkInterface is missing.")
	}
	for i, nic := range inst.GetNetworkInterfaces() {
		if nic.GetName() == name {
			return i, nil
		}
	}
	return 0, errInvalidField("networkInterface", name, "No network interface of the instance has this name.")
}

// updateAccessConfig merges the body (JSON merge patch, as the reference
// says) into the interface's access config: its address, network tier or
// public PTR. The interface must have one (at most one is supported, so
// it is the one updated); a body naming another config or another type
// is refused. GCP's answer for an interface without an access config is
// not documented: the emulator refuses it with a 400, the stricter choice.
func (s *Server) updateAccessConfig(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	i, err := nicOf(c, inst)
	if err != nil {
		return target{}, err
	}
	body := &computepb.AccessConfig{}
	if err := c.decode(body); err != nil {
		return target{}, err
	}
	nic := inst.GetNetworkInterfaces()[i]
	if len(nic.GetAccessConfigs()) == 0 {
		return target{}, errInvalidField("networkInterface", nic.GetName(), "The network interface has no access config to update: add one with addAccessConfig.")
	}
	ac := nic.GetAccessConfigs()[0]
	if t := body.GetType(); t != "" && t != ac.GetType() {
		return target{}, errInvalidField("resource.type", t, "Only ONE_TO_ONE_NAT is supported for an IPv4 access config.")
	}
	if n := body.GetName(); n != "" && n != ac.GetName() {
		return target{}, errInvalidField("resource.name", n, "No access config of the network interface has this name.")
	}
	if err := mergePatch(ac, c.body, "name", "type", "kind"); err != nil {
		return target{}, err
	}
	if ac.GetNatIP() == "" {
		ac.NatIP = proto.String(fmt.Sprintf("203.0.113.%d", 1+inst.GetId()%254))
	}
	s.replace(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}

// updateNetworkInterface changes an interface's alias IP ranges or
// attached network, the only fields the reference says it updates (any
// other field that differs is refused: the stricter choice). The body
// must carry the interface's current fingerprint (400 without, 412 when
// stale). Moving the interface to another network needs the VM stopped
// (https://cloud.google.com/vpc/docs/migrate-vm-instance-between-networks);
// the new subnetwork then names the network, and the internal address is
// given anew.
func (s *Server) updateNetworkInterface(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	i, err := nicOf(c, inst)
	if err != nil {
		return target{}, err
	}
	body := &computepb.NetworkInterface{}
	if err := c.decode(body); err != nil {
		return target{}, err
	}
	cur := inst.GetNetworkInterfaces()[i]
	switch fp := body.GetFingerprint(); {
	case fp == "":
		return target{}, errInvalidField("resource.fingerprint", "", "The network interface's fingerprint is required.")
	case fp != cur.GetFingerprint():
		return target{}, errConditionNotMet("Supplied fingerprint does not match current network interface fingerprint.")
	}
	next := proto.Clone(cur).(*computepb.NetworkInterface)
	moved := false
	if n := body.GetNetwork(); n != "" && link(c.project, n) != link(c.project, cur.GetNetwork()) {
		moved = true
	}
	if sn := body.GetSubnetwork(); sn != "" && link(c.project, sn) != link(c.project, cur.GetSubnetwork()) {
		moved = true
	}
	if moved {
		if inst.GetStatus() != "TERMINATED" {
			return target{}, errInvalid(fmt.Sprintf("The instance %s must be stopped to move its network interface %s to another network.", inst.GetName(), cur.GetName()))
		}
		next.Network, next.Subnetwork, next.NetworkIP = body.Network, body.Subnetwork, body.NetworkIP
		if body.GetNetworkIP() == cur.GetNetworkIP() {
			next.NetworkIP = nil // the old network's address: a new one is given
		}
		if err := s.attachNetwork(c.project, next, i, true); err != nil {
			return target{}, err
		}
	}
	if body.AliasIpRanges != nil || moved {
		next.AliasIpRanges = body.GetAliasIpRanges()
	}
	if err := unchangedNicFields(cur, body); err != nil {
		return target{}, err
	}
	if !moved {
		next.Fingerprint = proto.String(s.fingerprint(key + "/" + cur.GetName()))
	}
	inst.NetworkInterfaces[i] = next
	s.replace(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}

// unchangedNicFields refuses a body that sets a field
// updateNetworkInterface does not update to another value than it has.
func unchangedNicFields(cur, body *computepb.NetworkInterface) error {
	b := proto.Clone(body).(*computepb.NetworkInterface)
	b.Network, b.Subnetwork, b.NetworkIP, b.AliasIpRanges, b.Fingerprint = nil, nil, nil, nil, nil
	c := proto.Clone(cur).(*computepb.NetworkInterface)
	c.Network, c.Subnetwork, c.NetworkIP, c.AliasIpRanges, c.Fingerprint = nil, nil, nil, nil, nil
	// Only the fields the body sets are compared: a PATCH leaves the rest.
	diff := ""
	b.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if !c.ProtoReflect().Has(fd) || !c.ProtoReflect().Get(fd).Equal(v) {
			diff = fd.JSONName()
			return false
		}
		return true
	})
	if diff != "" {
		return errInvalidField("resource."+diff, "", "updateNetworkInterface changes only the network, subnetwork, internal address and alias IP ranges.")
	}
	return nil
}
