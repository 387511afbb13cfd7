package attack

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// mirrorScenarios are the catalogue's last network techniques by another
// principal: the sandbox's traffic mirrored (Sigma's
// gcp_full_network_traffic_packet_capture, rule sandbox-traffic-mirrored),
// its VM's external address changed and its interface moved to another
// network (Falco's "GCP VM modified", rule sandbox-exposed), each with a
// benign counterpart on the team's own network and VM.
func mirrorScenarios() []Scenario {
	return []Scenario{
		{Name: "sandbox-traffic-mirrored", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-mirroring",
			Summary: "copies the sandbox VM's traffic to a collector of its own on another network: forwardingRules.insert (internal, mirroring collector), packetMirrorings.insert on the sandbox's network (allowed)",
			Act: func(ctx context.Context, w *World) error {
				collector, err := w.teamCollector(ctx)
				if err != nil {
					return err
				}
				p, z := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone
				return w.mirror(ctx, "tap", "global/networks/"+w.Sandbox.Network(), collector, &computepb.PacketMirroringMirroredResourceInfo{
					Instances: []*computepb.PacketMirroringMirroredResourceInfoInstanceInfo{{Url: proto.String("projects/" + p + "/zones/" + z + "/instances/" + w.Sandbox.Name)}}})
			}},
		{Name: "operator-team-mirroring", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-traffic-mirrored",
			Summary: "mirrors the team's own subnetwork (not the sandbox's) to the team's collector: forwardingRules.insert, packetMirrorings.insert",
			Act: func(ctx context.Context, w *World) error {
				collector, err := w.teamCollector(ctx)
				if err != nil {
					return err
				}
				return w.mirror(ctx, "team-tap", "global/networks/team-net", collector, &computepb.PacketMirroringMirroredResourceInfo{
					Subnetworks: []*computepb.PacketMirroringMirroredResourceInfoSubnetInfo{{Url: proto.String("regions/" + w.Cfg.Region() + "/subnetworks/team-subnet")}}})
			}},

		{Name: "sandbox-address-swapped", Kind: Attack, Actor: actorOther, Counterpart: "operator-team-address",
			Summary: "points the external address of the sandbox's VM (left by an earlier exposure, contained and restored) at one of its own: instances.updateAccessConfig (allowed)",
			Setup: func(ctx context.Context, w *World) error {
				// The VM has an access config only after an exposure:
				// sandbox-vm-exposed, contained, then resolve --restore,
				// which starts the VM again as it was.
				s, err := Find("sandbox-vm-exposed")
				if err != nil {
					return err
				}
				r, err := Run(ctx, w, s, RunOptions{})
				if err != nil {
					return err
				}
				if !r.Passed() || len(r.Incidents) != 1 {
					return fmt.Errorf("sandbox-vm-exposed did not contain the sandbox once (%s, %d incidents)", r.After, len(r.Incidents))
				}
				id := r.Incidents[0].Incident.ID
				rep, err := w.Env.Restorer.Resolve(ctx, id, respond.ResolveOptions{Restore: true, By: emulator.Operator})
				if err != nil {
					return fmt.Errorf("resolve --restore %s: %w", id, err)
				}
				if rep.Failed() {
					return fmt.Errorf("resolve --restore %s: an undo action failed: %+v", id, rep.Actions)
				}
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				return w.swapAddress(ctx, w.Sandbox.Name)
			}},
		{Name: "operator-team-address", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-address-swapped",
			Summary: "gives the team's build VM (not the sandbox's) an external address, then a static one: instances.insert, addAccessConfig, updateAccessConfig",
			Act: func(ctx context.Context, w *World) error {
				if err := w.teamVM(ctx); err != nil {
					return err
				}
				p, z := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone
				op, err := w.Operator.Instances.AddAccessConfig(ctx, &computepb.AddAccessConfigInstanceRequest{Project: p, Zone: z, Instance: "team-build",
					NetworkInterface: "nic0", AccessConfigResource: &computepb.AccessConfig{Name: proto.String("External NAT"), Type: proto.String("ONE_TO_ONE_NAT")}})
				if err == nil {
					err = op.Wait(ctx)
				}
				if err != nil {
					return allowed(err, "instances.addAccessConfig nic0 on team-build")
				}
				return w.swapAddress(ctx, "team-build")
			}},

		{Name: "sandbox-vm-moved", Kind: Attack, Actor: actorOther, Counterpart: "operator-team-vm-moved",
			Summary: "moves the stopped sandbox VM's interface to a network of its own, past the sandbox's firewall and NAT: instances.updateNetworkInterface (allowed)",
			Setup: func(ctx context.Context, w *World) error {
				// Moving an interface needs the VM stopped: a user's stop,
				// which opens no incident.
				if err := w.teamSubnet(ctx, "team-net", "team-subnet", "10.20.0.0/24"); err != nil {
					return err
				}
				op, err := w.Operator.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: w.Cfg.Cloud.GCP.Project, Zone: w.Cfg.Cloud.GCP.Zone, Instance: w.Sandbox.Name})
				if err == nil {
					err = op.Wait(ctx)
				}
				return allowed(err, "instances.stop "+w.Sandbox.Name)
			},
			Act: func(ctx context.Context, w *World) error {
				return w.moveInterface(ctx, w.Sandbox.Name, "team-net", "team-subnet")
			}},
		{Name: "operator-team-vm-moved", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-vm-moved",
			Summary: "moves the team's stopped build VM (not the sandbox's) to the team's lab network: instances.stop, instances.updateNetworkInterface",
			Act: func(ctx context.Context, w *World) error {
				if err := w.teamVM(ctx); err != nil {
					return err
				}
				if err := w.teamSubnet(ctx, "team-lab", "team-lab-subnet", "10.30.0.0/24"); err != nil {
					return err
				}
				op, err := w.Operator.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: w.Cfg.Cloud.GCP.Project, Zone: w.Cfg.Cloud.GCP.Zone, Instance: "team-build"})
				if err == nil {
					err = op.Wait(ctx)
				}
				if err != nil {
					return allowed(err, "instances.stop team-build")
				}
				return w.moveInterface(ctx, "team-build", "team-lab", "team-lab-subnet")
			}},
	}
}

// teamSubnet is the operator making network with one subnetwork in the
// sandbox's region.
func (w *World) teamSubnet(ctx context.Context, network, subnet, cidr string) error {
	if err := w.insertNetwork(ctx, network); err != nil {
		return err
	}
	op, err := w.Operator.Subnetworks.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: w.Cfg.Cloud.GCP.Project, Region: w.Cfg.Region(),
		SubnetworkResource: &computepb.Subnetwork{Name: proto.String(subnet), Network: proto.String("global/networks/" + network), IpCidrRange: proto.String(cidr)}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "subnetworks.insert "+subnet)
}

// teamVM is the operator making the team's build VM on team-net.
func (w *World) teamVM(ctx context.Context) error {
	if err := w.teamSubnet(ctx, "team-net", "team-subnet", "10.20.0.0/24"); err != nil {
		return err
	}
	p, z := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone
	op, err := w.Operator.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: p, Zone: z, InstanceResource: &computepb.Instance{
		Name: proto.String("team-build"), MachineType: proto.String("zones/" + z + "/machineTypes/e2-small"),
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}}},
		NetworkInterfaces: []*computepb.NetworkInterface{{Subnetwork: proto.String("regions/" + w.Cfg.Region() + "/subnetworks/team-subnet")}},
	}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "instances.insert team-build")
}

// teamCollector is the operator making the team's network and the
// internal load balancer's forwarding rule a packet mirroring sends its
// copy to; it returns the rule's path.
func (w *World) teamCollector(ctx context.Context) (string, error) {
	if err := w.teamSubnet(ctx, "team-net", "team-subnet", "10.20.0.0/24"); err != nil {
		return "", err
	}
	c, err := compute.NewForwardingRulesRESTClient(ctx, w.computeOpts(w.principal(actorOperator))...)
	if err != nil {
		return "", fmt.Errorf("dial the emulated Compute forwarding rules API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	region := w.Cfg.Region()
	op, err := c.Insert(ctx, &computepb.InsertForwardingRuleRequest{Project: w.Cfg.Cloud.GCP.Project, Region: region, ForwardingRuleResource: &computepb.ForwardingRule{
		Name: proto.String("team-collector"), LoadBalancingScheme: proto.String("INTERNAL"), IsMirroringCollector: proto.Bool(true),
		BackendService: proto.String("regions/" + region + "/backendServices/team-collectors"), Subnetwork: proto.String("regions/" + region + "/subnetworks/team-subnet"),
		IPProtocol: proto.String("TCP"), AllPorts: proto.Bool(true)}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return "regions/" + region + "/forwardingRules/team-collector", allowed(err, "forwardingRules.insert team-collector")
}

// mirror is the operator mirroring network's resources to collector,
// through the official PacketMirrorings client.
func (w *World) mirror(ctx context.Context, name, network, collector string, mr *computepb.PacketMirroringMirroredResourceInfo) error {
	c, err := compute.NewPacketMirroringsRESTClient(ctx, w.computeOpts(w.principal(actorOperator))...)
	if err != nil {
		return fmt.Errorf("dial the emulated Compute packet mirrorings API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	op, err := c.Insert(ctx, &computepb.InsertPacketMirroringRequest{Project: w.Cfg.Cloud.GCP.Project, Region: w.Cfg.Region(), PacketMirroringResource: &computepb.PacketMirroring{
		Name: proto.String(name), Network: &computepb.PacketMirroringNetworkInfo{Url: proto.String(network)},
		CollectorIlb: &computepb.PacketMirroringForwardingRuleInfo{Url: proto.String(collector)}, MirroredResources: mr}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "packetMirrorings.insert "+name)
}

// swapAddress is the operator pointing vm's access config at a static
// address (a documentation address, RFC 5737).
func (w *World) swapAddress(ctx context.Context, vm string) error {
	op, err := w.Operator.Instances.UpdateAccessConfig(ctx, &computepb.UpdateAccessConfigInstanceRequest{Project: w.Cfg.Cloud.GCP.Project, Zone: w.Cfg.Cloud.GCP.Zone,
		Instance: vm, NetworkInterface: "nic0", AccessConfigResource: &computepb.AccessConfig{NatIP: proto.String("198.51.100.44")}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "instances.updateAccessConfig nic0 on "+vm)
}

// moveInterface is the operator moving vm's first interface to subnet of
// network, with the interface's current fingerprint.
func (w *World) moveInterface(ctx context.Context, vm, network, subnet string) error {
	p, z := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone
	inst, err := w.Operator.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: p, Zone: z, Instance: vm})
	if err != nil {
		return allowed(err, "instances.get "+vm)
	}
	if len(inst.GetNetworkInterfaces()) == 0 {
		return fmt.Errorf("the VM %s has no network interface to move", vm)
	}
	nic := inst.GetNetworkInterfaces()[0]
	op, err := w.Operator.Instances.UpdateNetworkInterface(ctx, &computepb.UpdateNetworkInterfaceInstanceRequest{Project: p, Zone: z, Instance: vm,
		NetworkInterface: nic.GetName(), NetworkInterfaceResource: &computepb.NetworkInterface{Fingerprint: nic.Fingerprint,
			Network: proto.String("global/networks/" + network), Subnetwork: proto.String("regions/" + w.Cfg.Region() + "/subnetworks/" + subnet)}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "instances.updateNetworkInterface "+nic.GetName()+" on "+vm)
}
