// Package cloudnat emulates what Cloud NAT records of a VM's outbound
// connections: when a drill's simulated agent connects from a VM to an
// address outside, and a Cloud Router NAT of the emulated Compute Engine
// serves the VM's subnetwork with logging on at a matching filter, it
// writes the translation (or drop) entry to the emulated Cloud Logging in
// the documented format (https://cloud.google.com/nat/docs/monitoring).
// Nothing is sent anywhere: Connect is the hook, not a network.
package cloudnat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// LogID is the log Cloud NAT writes to; its full name is
// projects/P/logs/compute.googleapis.com%2Fnat_flows.
const LogID = "compute.googleapis.com%2Fnat_flows"

// IANA protocol numbers of the protocols Cloud NAT logs: TCP and UDP only.
var protocols = map[string]int{"tcp": 6, "udp": 17}

// Connection is one outbound connection a VM makes.
type Connection struct {
	Project, Zone, Instance string
	// DestIP and DestPort are the address connected to; Protocol is tcp,
	// udp or icmp.
	DestIP   string
	DestPort int
	Protocol string
	// NoPort makes the NAT drop the connection as it does when no NAT
	// source port is free (allocation_status DROPPED).
	NoPort bool
}

// Result says what the NAT did with a connection.
type Result struct {
	// Gateway is the NAT that translated (or dropped) it, "" when no NAT
	// serves the VM or the destination is not outside the VPC.
	Gateway, Router string
	// Status is OK or DROPPED; Logged whether an entry was written.
	Status string
	Logged bool
}

// NAT is the emulated Cloud NAT of every router of the emulated Compute.
type NAT struct {
	compute *compute.Server
	logging *logging.Server

	mu sync.Mutex
	// port is the last source port handed out, per VM: the VM's kernel
	// and the NAT each pick a port; the emulation counts them.
	port map[string]int
}

// New returns the emulated Cloud NAT over c's routers, writing to l.
func New(c *compute.Server, l *logging.Server) *NAT {
	return &NAT{compute: c, logging: l, port: map[string]int{}}
}

// ErrNoVM is returned for a connection from a VM that does not exist or
// is not running: nothing runs on it to connect.
var ErrNoVM = errors.New("no running VM")

// Connect records c as Cloud NAT would. It fails when the VM is not
// running; a connection no NAT handles (a destination inside private
// address space, a VM with an external IP, a subnetwork no NAT covers) is
// not an error, it just leaves no NAT entry.
func (n *NAT) Connect(ctx context.Context, c Connection) (Result, error) {
	inst, ok := n.compute.Instance(c.Project, c.Zone, c.Instance)
	if !ok || inst.GetStatus() != "RUNNING" {
		return Result{}, fmt.Errorf("%w %s in %s/%s", ErrNoVM, c.Instance, c.Project, c.Zone)
	}
	dest, err := netip.ParseAddr(c.DestIP)
	if err != nil {
		return Result{}, fmt.Errorf("connection to %q: not an IP address: %w", c.DestIP, err)
	}
	nics := inst.GetNetworkInterfaces()
	// NAT translates internet-bound traffic of interfaces without an
	// external address; private and special ranges stay inside.
	if len(nics) == 0 || len(nics[0].GetAccessConfigs()) > 0 || !dest.IsGlobalUnicast() || dest.IsPrivate() {
		return Result{}, nil
	}
	nic := nics[0]
	region := c.Zone[:strings.LastIndex(c.Zone, "-")]
	rt, nat := n.gateway(c.Project, region, nic)
	if nat == nil {
		return Result{}, nil
	}
	res := Result{Gateway: nat.GetName(), Router: rt.GetName(), Status: "OK"}
	if c.NoPort {
		res.Status = "DROPPED"
	}
	proto, logged := protocols[strings.ToLower(c.Protocol)]
	if !logged || !logs(nat.GetLogConfig(), res.Status) {
		return res, nil
	}
	n.mu.Lock()
	key := c.Project + "/" + c.Zone + "/" + c.Instance
	if n.port[key] == 0 {
		n.port[key] = 32767
	}
	n.port[key]++
	srcPort := n.port[key]
	n.mu.Unlock()

	natIP := natAddress(rt.GetId())
	conn := map[string]any{
		"src_ip": nic.GetNetworkIP(), "src_port": srcPort,
		"dest_ip": dest.String(), "dest_port": c.DestPort, "protocol": proto,
	}
	if res.Status == "OK" {
		conn["nat_ip"], conn["nat_port"] = natIP, 1024+srcPort%64000
	}
	network, subnet := path.Base(nic.GetNetwork()), path.Base(nic.GetSubnetwork())
	payload, err := structpb.NewStruct(map[string]any{
		"connection":          conn,
		"allocation_status":   res.Status,
		"gateway_identifiers": map[string]any{"gateway_name": nat.GetName(), "router_name": rt.GetName(), "region": region},
		"endpoint":            map[string]any{"project_id": c.Project, "vm_name": c.Instance, "region": region, "zone": c.Zone},
		"vpc":                 map[string]any{"project_id": c.Project, "vpc_name": network, "subnetwork_name": subnet},
		// The destination's geo_location is what Google's IP data says;
		// the emulation has none to give.
		"destination": map[string]any{},
	})
	if err != nil {
		return res, err
	}
	labels := map[string]string{
		"nat.googleapis.com/instance_name": c.Instance, "nat.googleapis.com/instance_zone": c.Zone,
		"nat.googleapis.com/network_name": network, "nat.googleapis.com/subnetwork_name": subnet,
		"nat.googleapis.com/router_name": rt.GetName(),
	}
	if res.Status == "OK" {
		labels["nat.googleapis.com/nat_ip"] = natIP
	}
	n.logging.Append(ctx, &loggingpb.LogEntry{
		LogName: "projects/" + c.Project + "/logs/" + LogID,
		Resource: &monitoredres.MonitoredResource{Type: "nat_gateway", Labels: map[string]string{
			"region": region, "gateway_name": nat.GetName(), "router_id": strconv.FormatUint(rt.GetId(), 10), "project_id": c.Project,
		}},
		Labels:  labels,
		Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
	})
	res.Logged = true
	return res, nil
}

// gateway finds the router NAT of region that serves nic's subnetwork.
func (n *NAT) gateway(project, region string, nic *computepb.NetworkInterface) (*computepb.Router, *computepb.RouterNat) {
	for _, rt := range n.compute.Routers(project, region) {
		if path.Base(rt.GetNetwork()) != path.Base(nic.GetNetwork()) {
			continue
		}
		for _, nat := range rt.GetNats() {
			if covers(nat, nic.GetSubnetwork()) {
				return rt, nat
			}
		}
	}
	return nil, nil
}

// covers reports whether nat translates the subnetwork's primary range
// (sourceSubnetworkIpRangesToNat in the routers API reference).
func covers(nat *computepb.RouterNat, subnetwork string) bool {
	switch nat.GetSourceSubnetworkIpRangesToNat() {
	case "ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES":
		return true
	case "LIST_OF_SUBNETWORKS":
		for _, s := range nat.GetSubnetworks() {
			if path.Base(s.GetName()) == path.Base(subnetwork) {
				return true
			}
		}
	}
	return false
}

// logs reports whether a NAT with config c logs a connection of status:
// only when enabled; ERRORS_ONLY logs drops, TRANSLATIONS_ONLY successful
// connections, ALL (or no filter) both.
func logs(c *computepb.RouterNatLogConfig, status string) bool {
	if !c.GetEnable() {
		return false
	}
	switch c.GetFilter() {
	case "ERRORS_ONLY":
		return status == "DROPPED"
	case "TRANSLATIONS_ONLY":
		return status == "OK"
	}
	return true
}

// natAddress is the emulated external address a router's NAT allocated
// (AUTO_ONLY), in the documentation range 203.0.113.0/24.
func natAddress(routerID uint64) string {
	return "203.0.113." + strconv.FormatUint(1+routerID%254, 10)
}
