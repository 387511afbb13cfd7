// Package evidence knows the log formats an incident's evidence is read
// from, and nothing about reading them: the Logging queries of the
// incident window, and a Collector that sorts each entry by who wrote it —
// Cloud Audit Logs entries whose principal is the sandbox's account and
// Cloud NAT translation entries of the sandbox's NAT gateways (Google
// Cloud, outside the VM), and the VM's own entries (inside the VM, so
// untrusted) — and summarises them into bounded counts, never payload text.
// The collect-logs action does the reads.
package evidence

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// Audit log ids that record what a principal did
// (https://cloud.google.com/logging/docs/audit#types): Admin Activity,
// Data Access and Policy Denied. System Event entries are Google's own
// actions, never the account's.
var auditLogIDs = []string{"cloudaudit.googleapis.com/activity", "cloudaudit.googleapis.com/data_access", "cloudaudit.googleapis.com/policy"}

// NATLogID is the log Cloud NAT writes its translation and drop entries
// to, under resource type nat_gateway
// (https://cloud.google.com/nat/docs/monitoring#viewing_logs).
const NATLogID = "compute.googleapis.com/nat_flows"

// NATResourceType is the monitored resource of Cloud NAT's entries.
const NATResourceType = "nat_gateway"

// TopN bounds the methods and destinations a summary lists.
const TopN = 10

// LogName is the full name of log id in project, with the id's '/'
// escaped as Logging writes it.
func LogName(project, id string) string {
	return "projects/" + project + "/logs/" + url.PathEscape(id)
}

// Sources says whose entries a window's query selects.
type Sources struct {
	Project string
	// Principals are the sandbox VM's service accounts (from the instance
	// as Compute reports it).
	Principals []string
	// RouterIDs are the ids of the Cloud Routers whose NAT serves the VM's
	// network; Cloud NAT entries of other routers are not the VM's, and an
	// entry that names none of them is a forgery.
	RouterIDs []string
	// VMName and InstanceID name the VM.
	VMName, InstanceID string
}

// window is the time bound of every query.
func window(from, to time.Time) string {
	return fmt.Sprintf(`timestamp>=%q AND timestamp<=%q`, from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
}

// trusted selects the entries Google Cloud writes about the VM: its
// account's audited calls and its NAT translations. Parentheses are
// explicit: in the Logging query language OR binds tighter than AND.
func (s Sources) trusted() string {
	var parts []string
	if len(s.Principals) > 0 {
		var logs, who []string
		for _, id := range auditLogIDs {
			logs = append(logs, fmt.Sprintf("logName=%q", LogName(s.Project, id)))
		}
		for _, p := range s.Principals {
			who = append(who, fmt.Sprintf("protoPayload.authenticationInfo.principalEmail=%q", p))
		}
		parts = append(parts, "(("+strings.Join(logs, " OR ")+") AND ("+strings.Join(who, " OR ")+"))")
	}
	if len(s.RouterIDs) > 0 && s.VMName != "" {
		var ids []string
		for _, id := range s.RouterIDs {
			ids = append(ids, fmt.Sprintf("resource.labels.router_id=%q", id))
		}
		parts = append(parts, fmt.Sprintf("(logName=%q AND resource.type=%q AND jsonPayload.endpoint.vm_name=%q AND (%s))",
			LogName(s.Project, NATLogID), NATResourceType, s.VMName, strings.Join(ids, " OR ")))
	}
	return strings.Join(parts, " OR ")
}

// vm selects the VM's own entries: its monitored resource, outside the
// audit logs (which Google writes about calls on the VM).
func (s Sources) vm() string {
	return fmt.Sprintf(`(resource.type="gce_instance" AND resource.labels.instance_id=%q AND NOT logName:"cloudaudit.googleapis.com")`, s.InstanceID)
}

// Filter is the query of every source in the window: one paged read
// serves the usual incident.
func (s Sources) Filter(from, to time.Time) string {
	if t := s.trusted(); t != "" {
		return window(from, to) + " AND (" + t + " OR " + s.vm() + ")"
	}
	return window(from, to) + " AND " + s.vm()
}

// TrustedFilter is the query of the sources outside the VM only: read
// again when the VM's own entries filled the bound, so that an agent
// writing a flood of entries cannot push Google's out of the report.
func (s Sources) TrustedFilter(from, to time.Time) string {
	if t := s.trusted(); t != "" {
		return window(from, to) + " AND (" + t + ")"
	}
	return ""
}

// Collector sorts entries by source and summarises them.
type Collector struct {
	src        Sources
	principals map[string]bool
	routers    map[string]bool
	natLogging string
	from, to   time.Time

	audit   incident.AuditEvidence
	methods map[string]*incident.Count
	nat     incident.NATEvidence
	dests   map[string]int
	vm      incident.LogExcerpt
}

// NewCollector returns a Collector for the window [from, to]. natLogging
// is the NAT logging coopguard configures (all, errors or off), said in
// the report so that an empty list is not mistaken for no traffic.
func NewCollector(s Sources, natLogging string, from, to time.Time) *Collector {
	c := &Collector{src: s, principals: map[string]bool{}, routers: map[string]bool{}, natLogging: natLogging, from: from, to: to,
		methods: map[string]*incident.Count{}, dests: map[string]int{}}
	for _, p := range s.Principals {
		c.principals[p] = true
	}
	for _, id := range s.RouterIDs {
		c.routers[id] = true
	}
	c.vm = incident.LogExcerpt{Source: incident.FromVM, Filter: window(from, to) + " AND " + s.vm(), BySeverity: map[string]int{}}
	return c
}

// ResetTrusted forgets the audit and NAT entries seen so far, before a
// trusted-only read counts them again.
func (c *Collector) ResetTrusted() {
	c.audit, c.nat = incident.AuditEvidence{}, incident.NATEvidence{}
	c.methods, c.dests = map[string]*incident.Count{}, map[string]int{}
}

// Truncate marks the summaries as cut short by the read bound: the VM's
// own when vm, the trusted ones when trusted.
func (c *Collector) Truncate(vm, trusted bool) {
	c.vm.Truncated = c.vm.Truncated || vm
	c.audit.Truncated = c.audit.Truncated || trusted
	c.nat.Truncated = c.nat.Truncated || trusted
}

// Add counts one entry under its source. The source is decided by what
// only Google writes: a Cloud Audit Logs log name (reserved) with an
// AuditLog payload naming the sandbox's account, or the NAT log under one
// of the sandbox's routers (whose id the VM never sees). Anything else the
// query returned is the VM's.
func (c *Collector) Add(e *loggingpb.LogEntry) {
	ts := e.GetTimestamp().AsTime()
	if a, ok := c.auditOf(e); ok {
		c.audit.Entries++
		stamp(&c.audit.First, &c.audit.Last, ts)
		m := a.GetMethodName()
		if m == "" {
			m = "(no method)"
		}
		n := c.methods[m]
		if n == nil {
			n = &incident.Count{Name: m}
			c.methods[m] = n
		}
		n.Count++
		if a.GetStatus().GetCode() != 0 {
			c.audit.Denied++
			n.Denied++
		} else {
			c.audit.Allowed++
		}
		return
	}
	if conn, status, ok := c.natOf(e); ok {
		c.nat.Entries++
		stamp(&c.nat.First, &c.nat.Last, ts)
		if status == "DROPPED" {
			c.nat.Dropped++
		} else {
			c.nat.Translated++
		}
		c.dests[conn]++
		return
	}
	c.vm.Entries++
	c.vm.BySeverity[e.GetSeverity().String()]++
	if len(c.vm.First) < 5 {
		c.vm.First = append(c.vm.First, ts.UTC().Format(time.RFC3339)+" "+e.GetSeverity().String()+" "+e.GetLogName())
	}
}

// stamp widens [first, last] to cover t.
func stamp(first, last *time.Time, t time.Time) {
	if first.IsZero() || t.Before(*first) {
		*first = t
	}
	if t.After(*last) {
		*last = t
	}
}

// auditOf returns the AuditLog of a genuine audit entry by the sandbox's
// account.
func (c *Collector) auditOf(e *loggingpb.LogEntry) (*auditpb.AuditLog, bool) {
	genuine := false
	for _, id := range auditLogIDs {
		genuine = genuine || e.GetLogName() == LogName(c.src.Project, id)
	}
	p := e.GetProtoPayload()
	if !genuine || p == nil {
		return nil, false
	}
	var a auditpb.AuditLog
	if p.UnmarshalTo(&a) != nil || !c.principals[a.GetAuthenticationInfo().GetPrincipalEmail()] {
		return nil, false
	}
	return &a, true
}

// natOf decodes a Cloud NAT entry of the sandbox's routers: the
// destination "ip:port/protocol" and allocation_status
// (https://cloud.google.com/nat/docs/monitoring#log-format).
func (c *Collector) natOf(e *loggingpb.LogEntry) (dest, status string, ok bool) {
	if e.GetLogName() != LogName(c.src.Project, NATLogID) || e.GetResource().GetType() != NATResourceType ||
		!c.routers[e.GetResource().GetLabels()["router_id"]] {
		return "", "", false
	}
	p := e.GetJsonPayload()
	conn := p.GetFields()["connection"].GetStructValue()
	if conn == nil {
		return "", "", false
	}
	f := conn.GetFields()
	ip := f["dest_ip"].GetStringValue()
	if ip == "" {
		return "", "", false
	}
	dest = ip + ":" + number(f["dest_port"]) + "/" + protocol(f["protocol"])
	return dest, p.GetFields()["allocation_status"].GetStringValue(), true
}

// number renders a JSON number field as an integer.
func number(v *structpb.Value) string {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	return strconv.FormatInt(int64(v.GetNumberValue()), 10)
}

// protocol names the connection's protocol: the field reference gives it
// as an IANA protocol number, the examples as a name; both are read.
func protocol(v *structpb.Value) string {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return strings.ToLower(s.StringValue)
	}
	switch n := int(v.GetNumberValue()); n {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	default:
		return "proto-" + strconv.Itoa(n)
	}
}

// Evidence returns the summaries: the audit and NAT sources always (an
// empty one says so), the VM's own.
func (c *Collector) Evidence() *incident.Evidence {
	ev := &incident.Evidence{From: c.from, To: c.to}
	a := c.audit
	a.Source, a.Principal = incident.FromOutside, strings.Join(c.src.Principals, ", ")
	for _, m := range c.methods {
		a.Methods = append(a.Methods, *m)
	}
	a.Methods = top(a.Methods)
	ev.Audit = &a

	n := c.nat
	n.Source, n.Logging = incident.FromOutside, c.natLogging
	for d, k := range c.dests {
		n.Destinations = append(n.Destinations, incident.Count{Name: d, Count: k})
	}
	n.Destinations = top(n.Destinations)
	switch {
	case c.natLogging == "off":
		n.Note = "Cloud NAT logging is off (coopguard.evidence.nat_logs): connections are not recorded"
	case len(c.src.RouterIDs) == 0:
		n.Note = "no Cloud NAT serves the VM's network: nothing records its connections"
	case c.natLogging == "errors":
		n.Note = "Cloud NAT logs only dropped connections (coopguard.evidence.nat_logs = \"errors\")"
	}
	ev.NAT = &n

	vm := c.vm
	ev.VM = &vm
	return ev
}

// top sorts counts, most frequent first (then by name), and keeps TopN.
func top(cs []incident.Count) []incident.Count {
	slices.SortFunc(cs, func(a, b incident.Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	if len(cs) > TopN {
		cs = cs[:TopN]
	}
	return cs
}
