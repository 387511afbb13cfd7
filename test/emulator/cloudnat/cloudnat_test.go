package cloudnat_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/cloudnat"
)

const (
	project = "nat-project"
	zone    = "us-central1-a"
	region  = "us-central1"
	vm      = "box"
)

// world is an emulated project with a network, a VM on it without an
// external address, and a router whose NAT serves the VM's subnetwork.
func world(t *testing.T, lc *computepb.RouterNatLogConfig) (*emulator.Emulator, *gcp.Clients) {
	t.Helper()
	ctx := context.Background()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	c, err := emu.Clients(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := gcp.Wait(ctx)(c.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String("sandbox"), AutoCreateSubnetworks: proto.Bool(false)}})); err != nil {
		t.Fatal(err)
	}
	if err := gcp.Wait(ctx)(c.Routers.Insert(ctx, &computepb.InsertRouterRequest{Project: project, Region: region, RouterResource: &computepb.Router{
		Name: proto.String("egress"), Network: proto.String("global/networks/sandbox"),
		Nats: []*computepb.RouterNat{{Name: proto.String("nat"), NatIpAllocateOption: proto.String("AUTO_ONLY"),
			SourceSubnetworkIpRangesToNat: proto.String("ALL_SUBNETWORKS_ALL_IP_RANGES"), LogConfig: lc}},
	}})); err != nil {
		t.Fatal(err)
	}
	emu.Compute.SeedInstance(project, zone, &computepb.Instance{Name: proto.String(vm), NetworkInterfaces: []*computepb.NetworkInterface{{
		Network: proto.String("global/networks/sandbox"), Subnetwork: proto.String("regions/" + region + "/subnetworks/sandbox"),
		NetworkIP: proto.String("10.10.0.2")}}})
	return emu, c
}

// natEntries reads the NAT log through entries.list, by the fields the
// reference documents.
func natEntries(t *testing.T, c *gcp.Clients, dest string) []*loggingpb.LogEntry {
	t.Helper()
	it := c.Logging.ListLogEntries(context.Background(), &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + project},
		Filter:        `logName="projects/` + project + `/logs/compute.googleapis.com%2Fnat_flows" AND resource.type="nat_gateway" AND jsonPayload.connection.dest_ip="` + dest + `"`,
	})
	var out []*loggingpb.LogEntry
	for {
		e, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

// TestConnectLogsAsConfigured: a connection from the VM to an outside
// address through its subnetwork's NAT is logged in nat_flows when logging
// is on and the filter takes its status (ERRORS_ONLY: drops,
// TRANSLATIONS_ONLY: translations, ALL or none: both); TCP and UDP only;
// destinations inside private space do not go through NAT.
func TestConnectLogsAsConfigured(t *testing.T) {
	on := func(f string) *computepb.RouterNatLogConfig {
		lc := &computepb.RouterNatLogConfig{Enable: proto.Bool(true)}
		if f != "" {
			lc.Filter = proto.String(f)
		}
		return lc
	}
	tests := []struct {
		name   string
		config *computepb.RouterNatLogConfig
		conn   cloudnat.Connection
		logged bool
		status string
	}{
		{"all, translated", on("ALL"), cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp"}, true, "OK"},
		{"no filter means all", on(""), cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 53, Protocol: "udp"}, true, "OK"},
		{"all, dropped", on("ALL"), cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp", NoPort: true}, true, "DROPPED"},
		{"errors only, translated", on("ERRORS_ONLY"), cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp"}, false, "OK"},
		{"errors only, dropped", on("ERRORS_ONLY"), cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp", NoPort: true}, true, "DROPPED"},
		{"translations only, dropped", on("TRANSLATIONS_ONLY"), cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp", NoPort: true}, false, "DROPPED"},
		{"logging off", &computepb.RouterNatLogConfig{Enable: proto.Bool(false)}, cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp"}, false, "OK"},
		{"no log config", nil, cloudnat.Connection{DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp"}, false, "OK"},
		{"icmp is not logged", on("ALL"), cloudnat.Connection{DestIP: "198.51.100.23", Protocol: "icmp"}, false, "OK"},
		{"private destination skips NAT", on("ALL"), cloudnat.Connection{DestIP: "10.20.0.5", DestPort: 443, Protocol: "tcp"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, c := world(t, tt.config)
			conn := tt.conn
			conn.Project, conn.Zone, conn.Instance = project, zone, vm
			res, err := emu.NAT.Connect(context.Background(), conn)
			if err != nil {
				t.Fatal(err)
			}
			if res.Logged != tt.logged || res.Status != tt.status {
				t.Fatalf("result %+v, want logged %v status %q", res, tt.logged, tt.status)
			}
			got := natEntries(t, c, conn.DestIP)
			if !tt.logged {
				if len(got) != 0 {
					t.Fatalf("%d NAT entries, want none", len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d NAT entries, want 1", len(got))
			}
			e := got[0]
			p := e.GetJsonPayload().GetFields()
			cn := p["connection"].GetStructValue().GetFields()
			rt := emu.Compute.Routers(project, region)[0]
			checks := []struct{ name, got, want string }{
				{"resource.labels.router_id", e.GetResource().GetLabels()["router_id"], strconv.FormatUint(rt.GetId(), 10)},
				{"resource.labels.gateway_name", e.GetResource().GetLabels()["gateway_name"], "nat"},
				{"allocation_status", p["allocation_status"].GetStringValue(), tt.status},
				{"connection.src_ip", cn["src_ip"].GetStringValue(), "10.10.0.2"},
				{"connection.dest_ip", cn["dest_ip"].GetStringValue(), conn.DestIP},
				{"connection.dest_port", strconv.Itoa(int(cn["dest_port"].GetNumberValue())), strconv.Itoa(conn.DestPort)},
				{"endpoint.vm_name", p["endpoint"].GetStructValue().GetFields()["vm_name"].GetStringValue(), vm},
				{"gateway_identifiers.router_name", p["gateway_identifiers"].GetStructValue().GetFields()["router_name"].GetStringValue(), "egress"},
				{"vpc.vpc_name", p["vpc"].GetStructValue().GetFields()["vpc_name"].GetStringValue(), "sandbox"},
			}
			for _, ck := range checks {
				if ck.got != ck.want {
					t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
				}
			}
			if proto := int(cn["protocol"].GetNumberValue()); proto != map[string]int{"tcp": 6, "udp": 17}[conn.Protocol] {
				t.Errorf("connection.protocol = %d, want the IANA number of %s", proto, conn.Protocol)
			}
			if _, ok := cn["nat_ip"]; ok != (tt.status == "OK") {
				t.Errorf("nat_ip present %v for status %s: only a translation has a NAT address", ok, tt.status)
			}
			if time.Since(e.GetTimestamp().AsTime()) > time.Minute {
				t.Errorf("timestamp %v is not the emulator's now", e.GetTimestamp().AsTime())
			}
		})
	}
}

// TestConnectNeedsARunningVM: a stopped or unknown VM connects nowhere.
func TestConnectNeedsARunningVM(t *testing.T) {
	emu, _ := world(t, &computepb.RouterNatLogConfig{Enable: proto.Bool(true)})
	_, err := emu.NAT.Connect(context.Background(), cloudnat.Connection{Project: project, Zone: zone, Instance: "nobody", DestIP: "198.51.100.23", DestPort: 443, Protocol: "tcp"})
	if !errors.Is(err, cloudnat.ErrNoVM) {
		t.Fatalf("connect from an unknown VM: %v, want ErrNoVM", err)
	}
}
