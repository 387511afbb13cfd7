package evidence

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

const (
	project = "p-evidence"
	sa      = "cc-sandbox@p-evidence.iam.gserviceaccount.com"
	router  = "4242424242424242"
)

var (
	t0  = time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	src = Sources{Project: project, Principals: []string{sa}, RouterIDs: []string{router}, VMName: "box", InstanceID: "77"}
)

func audit(t *testing.T, logID, principal, method string, code int32, at time.Duration) *loggingpb.LogEntry {
	t.Helper()
	p, err := anypb.New(&auditpb.AuditLog{MethodName: method, AuthenticationInfo: &auditpb.AuthenticationInfo{PrincipalEmail: principal},
		Status: &rpcstatus.Status{Code: code}})
	if err != nil {
		t.Fatal(err)
	}
	return &loggingpb.LogEntry{LogName: LogName(project, logID), Timestamp: timestamppb.New(t0.Add(at)),
		Resource: &monitoredres.MonitoredResource{Type: "audited_resource", Labels: map[string]string{"project_id": project}},
		Payload:  &loggingpb.LogEntry_ProtoPayload{ProtoPayload: p}}
}

func nat(t *testing.T, routerID, vm, ip string, port float64, proto any, status string, at time.Duration) *loggingpb.LogEntry {
	t.Helper()
	p, err := structpb.NewStruct(map[string]any{
		"connection":        map[string]any{"src_ip": "10.10.0.2", "src_port": 40000, "dest_ip": ip, "dest_port": port, "protocol": proto},
		"allocation_status": status,
		"endpoint":          map[string]any{"vm_name": vm, "project_id": project},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &loggingpb.LogEntry{LogName: LogName(project, NATLogID), Timestamp: timestamppb.New(t0.Add(at)),
		Resource: &monitoredres.MonitoredResource{Type: NATResourceType, Labels: map[string]string{"router_id": routerID, "project_id": project}},
		Payload:  &loggingpb.LogEntry_JsonPayload{JsonPayload: p}}
}

func vmEntry(logID string, at time.Duration) *loggingpb.LogEntry {
	return &loggingpb.LogEntry{LogName: LogName(project, logID), Timestamp: timestamppb.New(t0.Add(at)),
		Resource: &monitoredres.MonitoredResource{Type: "gce_instance", Labels: map[string]string{"instance_id": "77"}},
		Payload:  &loggingpb.LogEntry_TextPayload{TextPayload: "sk-never-shown"}}
}

// TestCollector: each entry the window's query returns lands in its
// source, and what the VM could write never counts as Google's: a
// look-alike audit log name, an audit entry of another principal, a NAT
// entry under another router are the VM's or nobody's.
func TestCollector(t *testing.T) {
	entries := []struct {
		name string
		e    *loggingpb.LogEntry
		// selected: the query returns it; where: the source it lands in.
		selected bool
		where    string
	}{
		{"own call allowed", audit(t, "cloudaudit.googleapis.com/data_access", sa, "AccessSecretVersion", 0, time.Minute), true, "audit"},
		{"own call denied", audit(t, "cloudaudit.googleapis.com/activity", sa, "SetIamPolicy", 7, 2*time.Minute), true, "audit"},
		{"own call denied again", audit(t, "cloudaudit.googleapis.com/activity", sa, "SetIamPolicy", 7, 3*time.Minute), true, "audit"},
		{"policy denied", audit(t, "cloudaudit.googleapis.com/policy", sa, "GetSecret", 7, 4*time.Minute), true, "audit"},
		{"someone else's call", audit(t, "cloudaudit.googleapis.com/activity", "operator@example.com", "SetIamPolicy", 0, time.Minute), false, ""},
		{"look-alike audit log", audit(t, "cloudaudit.googleapis.com/activity0", sa, "SetIamPolicy", 0, time.Minute), false, ""},
		{"system event", audit(t, "cloudaudit.googleapis.com/system_event", sa, "stop", 0, time.Minute), false, ""},
		{"connection out", nat(t, router, "box", "198.51.100.23", 443, 6.0, "OK", 90*time.Second), true, "nat"},
		{"connection out again", nat(t, router, "box", "198.51.100.23", 443, "tcp", "OK", 100*time.Second), true, "nat"},
		{"connection dropped", nat(t, router, "box", "192.0.2.9", 53, 17.0, "DROPPED", 110*time.Second), true, "nat"},
		{"forged NAT entry, unknown router", nat(t, "1", "box", "203.0.113.66", 443, 6.0, "OK", time.Minute), false, ""},
		{"another VM's connection", nat(t, router, "other", "203.0.113.67", 443, 6.0, "OK", time.Minute), false, ""},
		{"VM's own log", vmEntry("syslog", 30*time.Second), true, "vm"},
		{"VM forging a NAT log name", vmEntry("compute.googleapis.com/nat_flows", 40*time.Second), true, "vm"},
		{"outside the window", audit(t, "cloudaudit.googleapis.com/activity", sa, "SetIamPolicy", 7, 2*time.Hour), false, ""},
	}
	from, to := t0, t0.Add(time.Hour)
	q, err := logging.ParseFilter(src.Filter(from, to))
	if err != nil {
		t.Fatalf("the window's filter does not parse: %v\n%s", err, src.Filter(from, to))
	}
	tq, err := logging.ParseFilter(src.TrustedFilter(from, to))
	if err != nil {
		t.Fatalf("the trusted filter does not parse: %v", err)
	}
	c := NewCollector(src, "all", from, to)
	for _, tt := range entries {
		if got := q.MatchEntry(tt.e); got != tt.selected {
			t.Errorf("%s: selected by the query = %v, want %v", tt.name, got, tt.selected)
		}
		if got := tq.MatchEntry(tt.e); got != (tt.where == "audit" || tt.where == "nat") {
			t.Errorf("%s: selected by the trusted query = %v", tt.name, got)
		}
		if tt.selected {
			c.Add(tt.e)
		}
	}
	ev := c.Evidence()
	want := struct{ audit, allowed, denied, nat, translated, dropped, vm int }{4, 1, 3, 3, 2, 1, 2}
	got := struct{ audit, allowed, denied, nat, translated, dropped, vm int }{ev.Audit.Entries, ev.Audit.Allowed, ev.Audit.Denied,
		ev.NAT.Entries, ev.NAT.Translated, ev.NAT.Dropped, ev.VM.Entries}
	if got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	if ev.Audit.Source != incident.FromOutside || ev.NAT.Source != incident.FromOutside || ev.VM.Source != incident.FromVM {
		t.Errorf("sources: audit %q, NAT %q, VM %q", ev.Audit.Source, ev.NAT.Source, ev.VM.Source)
	}
	if m := ev.Audit.Methods; len(m) != 3 || m[0] != (incident.Count{Name: "SetIamPolicy", Count: 2, Denied: 2}) {
		t.Errorf("methods = %+v, want SetIamPolicy ×2 (2 denied) first", m)
	}
	if d := ev.NAT.Destinations; len(d) != 2 || d[0] != (incident.Count{Name: "198.51.100.23:443/tcp", Count: 2}) || d[1].Name != "192.0.2.9:53/udp" {
		t.Errorf("destinations = %+v", d)
	}
	if !ev.Audit.First.Equal(t0.Add(time.Minute)) || !ev.Audit.Last.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("audit first/last = %v / %v", ev.Audit.First, ev.Audit.Last)
	}
	for _, line := range ev.VM.First {
		if strings.Contains(line, "sk-never-shown") {
			t.Errorf("a payload reached the report: %s", line)
		}
	}
}

// TestCollectorBounds: the summaries keep the TopN most frequent names
// however many there are, and ResetTrusted forgets Google's entries only.
func TestCollectorBounds(t *testing.T) {
	c := NewCollector(src, "all", t0, t0.Add(time.Hour))
	for i := range 3 * TopN {
		e := nat(t, router, "box", "198.51.100."+string(rune('0'+i%10))+string(rune('0'+i/10)), 443, 6.0, "OK", time.Minute)
		for range i + 1 {
			c.Add(e)
		}
	}
	c.Add(vmEntry("syslog", time.Minute))
	if d := c.Evidence().NAT.Destinations; len(d) != TopN || d[0].Count != 3*TopN {
		t.Errorf("destinations: %d listed, first %+v; want %d, the most frequent first", len(d), d[0], TopN)
	}
	c.ResetTrusted()
	if ev := c.Evidence(); ev.NAT.Entries != 0 || ev.VM.Entries != 1 {
		t.Errorf("after ResetTrusted: NAT %d, VM %d; want 0 and 1", ev.NAT.Entries, ev.VM.Entries)
	}
}

// TestNotes: the NAT summary says why it may be empty.
func TestNotes(t *testing.T) {
	tests := []struct {
		logging string
		routers []string
		want    string
	}{
		{"off", []string{router}, "logging is off"},
		{"all", nil, "no Cloud NAT"},
		{"errors", []string{router}, "only dropped"},
		{"all", []string{router}, ""},
	}
	for _, tt := range tests {
		s := src
		s.RouterIDs = tt.routers
		note := NewCollector(s, tt.logging, t0, t0).Evidence().NAT.Note
		if (tt.want == "") != (note == "") || !strings.Contains(note, tt.want) {
			t.Errorf("nat_logs %s, routers %v: note %q, want %q", tt.logging, tt.routers, note, tt.want)
		}
	}
}
