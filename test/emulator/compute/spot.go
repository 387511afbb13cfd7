package compute

import (
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// PreemptedMethod is the method GCP names a Spot or preemptible VM's
// preemption by: the zone operation's operationType and the System Event
// audit entry's methodName
// (https://cloud.google.com/compute/docs/instances/create-use-spot#detect-preemption).
const PreemptedMethod = "compute.instances.preempted"

// PreemptionUser is the `user` of a preemption's operation: GCP, not an
// account (`gcloud compute operations list` shows it as "system").
const PreemptionUser = "system"

// Preempt reclaims a RUNNING Spot or preemptible VM as Compute Engine does:
// with instanceTerminationAction STOP (Spot's default) the VM is
// TERMINATED and kept, with DELETE it is deleted; either way a DONE zone
// operation compute.instances.preempted by "system" records it. The
// 30-second shutdown notice is not modelled: the VM is TERMINATED at once,
// which only shortens what a watcher could see. It returns the instance
// as it was just before, for the System Event entry the caller writes.
func (s *Server) Preempt(project, zone, name string) (*computepb.Instance, error) {
	s.lock()
	defer s.mu.Unlock()
	key := "projects/" + project + "/zones/" + zone + "/instances/" + name
	inst, ok := s.objects[key].(*computepb.Instance)
	if !ok {
		return nil, fmt.Errorf("compute: preempt %s: no such instance", key)
	}
	sc := inst.GetScheduling()
	if sc.GetProvisioningModel() != "SPOT" && !sc.GetPreemptible() {
		return nil, fmt.Errorf("compute: preempt %s: provisioningModel %s is not preemptible", key, sc.GetProvisioningModel())
	}
	if inst.GetStatus() != "RUNNING" {
		return nil, fmt.Errorf("compute: preempt %s: status %s, only a RUNNING VM is preempted", key, inst.GetStatus())
	}
	before := proto.Clone(inst).(*computepb.Instance)
	now := s.now()
	if sc.GetInstanceTerminationAction() == "DELETE" {
		s.dropInstance(key, inst)
	} else {
		cur := proto.Clone(inst).(*computepb.Instance)
		cur.Status = proto.String("TERMINATED")
		cur.LastStopTimestamp = proto.String(timestamp(now))
		s.replace(key, cur)
	}
	s.seq++
	zoneScope := "projects/" + project + "/zones/" + zone
	opName := fmt.Sprintf("systemevent-%d-%016x", now.UnixMilli(), newID(fmt.Sprintf("op#%d", s.seq)))
	opKey := zoneScope + "/operations/" + opName
	s.ops[opKey] = &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(newID(opKey)),
		Name:          proto.String(opName),
		OperationType: proto.String(PreemptedMethod),
		TargetLink:    proto.String(selfLinkBase + key),
		TargetId:      proto.Uint64(before.GetId()),
		SelfLink:      proto.String(selfLinkBase + opKey),
		User:          proto.String(PreemptionUser),
		Zone:          proto.String(selfLinkBase + zoneScope),
		Progress:      proto.Int32(100),
		InsertTime:    proto.String(timestamp(now)),
		StartTime:     proto.String(timestamp(now)),
		EndTime:       proto.String(timestamp(now)),
		Status:        computepb.Operation_DONE.Enum(),
		StatusMessage: proto.String("Instance was preempted."),
	}
	s.notify()
	return before, nil
}

// CreateDefaultNetwork makes the project's `default` network as GCP does
// for a new project (https://cloud.google.com/vpc/docs/vpc#default-network):
// auto mode, regional routing, MTU 1460, with the ingress rules
// default-allow-internal (10.128.0.0/9, all tcp/udp ports and icmp),
// default-allow-ssh (tcp:22), default-allow-rdp (tcp:3389) and
// default-allow-icmp from 0.0.0.0/0, each at priority 65534. The emulator
// has no project creation, so a test that wants the network asks for it;
// the subnets auto mode makes are not modelled (an instance names the
// network only). Making it twice is an error, as a second insert would be.
func (s *Server) CreateDefaultNetwork(project string) error {
	s.lock()
	defer s.mu.Unlock()
	netKey := "projects/" + project + "/global/networks/default"
	n := &computepb.Network{
		Name:                  proto.String("default"),
		Description:           proto.String("Default network for the project"),
		AutoCreateSubnetworks: proto.Bool(true),
		Mtu:                   proto.Int32(1460),
		RoutingConfig:         &computepb.NetworkRoutingConfig{RoutingMode: proto.String("REGIONAL")},
	}
	if _, err := s.create(netKey, "compute#network", n); err != nil {
		return fmt.Errorf("compute: default network of %s: %w", project, err)
	}
	tcpUDP := func(ports ...string) []*computepb.Allowed {
		return []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: ports}}
	}
	rules := []struct {
		name, src string
		allowed   []*computepb.Allowed
	}{
		{"default-allow-internal", "10.128.0.0/9", []*computepb.Allowed{
			{IPProtocol: proto.String("tcp"), Ports: []string{"0-65535"}},
			{IPProtocol: proto.String("udp"), Ports: []string{"0-65535"}},
			{IPProtocol: proto.String("icmp")},
		}},
		{"default-allow-ssh", "0.0.0.0/0", tcpUDP("22")},
		{"default-allow-rdp", "0.0.0.0/0", tcpUDP("3389")},
		{"default-allow-icmp", "0.0.0.0/0", []*computepb.Allowed{{IPProtocol: proto.String("icmp")}}},
	}
	for _, r := range rules {
		fw := &computepb.Firewall{
			Name:         proto.String(r.name),
			Network:      proto.String(selfLinkBase + netKey),
			Direction:    proto.String("INGRESS"),
			Priority:     proto.Int32(65534),
			SourceRanges: []string{r.src},
			Allowed:      r.allowed,
			Disabled:     proto.Bool(false),
		}
		if _, err := s.create("projects/"+project+"/global/firewalls/"+r.name, "compute#firewall", fw); err != nil {
			return fmt.Errorf("compute: default network of %s: %w", project, err)
		}
	}
	s.notify()
	return nil
}
