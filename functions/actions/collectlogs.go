package actions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/evidence"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// Read bounds of collect-logs: pages of evidencePageSize entries, at most
// evidencePages per query. The usual incident costs one entries.list call
// of Logging's 60 a minute; a window flooded by the VM's own entries costs
// at most 2×evidencePages.
const (
	evidencePageSize = 1000
	evidencePages    = 3
)

// CollectLogs reads the incident window's evidence into the report: the
// sandbox account's audited calls and the VM's NAT translations, which
// Google Cloud writes, and the VM's own entries, which the attacker may
// have written. It keeps counts, times and names, no payload text.
type CollectLogs struct{}

// Name implements Action.
func (CollectLogs) Name() string { return "collect-logs" }

// Mutates implements Action.
func (CollectLogs) Mutates() bool { return false }

// Run implements Action.
func (CollectLogs) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	start := t.Incident.StartedAt
	if start.IsZero() {
		start = t.now()
	}
	from, to := start.Add(-t.LogWindow), t.now()
	src := evidence.Sources{Project: t.Project, VMName: t.Instance.GetName(), InstanceID: strconv.FormatUint(t.Instance.GetId(), 10)}
	for _, sa := range t.Instance.GetServiceAccounts() {
		if sa.GetEmail() != "" {
			src.Principals = append(src.Principals, sa.GetEmail())
		}
	}
	natLogs := t.NATLogs
	if natLogs == "" {
		natLogs = "off"
	}
	if natLogs != "off" {
		ids, err := natRouters(ctx, c, t)
		if err != nil {
			return Outcome{Target: t.instanceRef()}, err
		}
		src.RouterIDs = ids
	}
	if !t.takeLogRead() {
		return Outcome{Target: t.instanceRef()}, ErrLogBudget
	}
	col := evidence.NewCollector(src, natLogs, from, to)
	more, err := readEntries(ctx, c, t, src.Filter(from, to), col)
	if err != nil {
		return Outcome{Target: t.instanceRef()}, err
	}
	if more {
		// The bound was hit, perhaps by the VM's own entries: read what
		// Google wrote again, alone, so a flood cannot hide it.
		col.Truncate(true, false)
		// Without budget for it, the evidence stays as read, marked
		// truncated.
		if f := src.TrustedFilter(from, to); f != "" && t.takeLogRead() {
			col.ResetTrusted()
			trustedMore, err := readEntries(ctx, c, t, f, col)
			if err != nil {
				return Outcome{Target: t.instanceRef()}, err
			}
			col.Truncate(false, trustedMore)
		}
	}
	ev := col.Evidence()
	return Outcome{
		Result:   incident.ResultDone,
		Target:   t.instanceRef(),
		Detail:   fmt.Sprintf("%d audited calls, %d NAT connections, %d VM entries", ev.Audit.Entries, ev.NAT.Entries, ev.VM.Entries),
		Evidence: ev,
	}, nil
}

// ErrLogBudget is collect-logs' answer when the shared Cloud Logging read
// budget (Target.LogReads) has nothing left: the step waits for the next
// look; nothing failed.
var ErrLogBudget = errors.New("the Cloud Logging read budget coopguard keeps under Logging's quota is used up for now")

// takeLogRead takes one read from t's budget (always granted without one).
func (t *Target) takeLogRead() bool { return t.LogReads == nil || t.LogReads() }

// readEntries pages through the entries that match filter, at most
// evidencePages pages, into col; more reports that entries were left. The
// caller took the first page's read from the budget; a later page without
// budget ends the read as if the bound were hit.
func readEntries(ctx context.Context, c *gcp.Clients, t *Target, filter string, col *evidence.Collector) (more bool, err error) {
	it := c.Logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + t.Project},
		Filter:        filter,
		OrderBy:       "timestamp asc",
		PageSize:      evidencePageSize,
	})
	pager := iterator.NewPager(it, evidencePageSize, "")
	for i := range evidencePages {
		if i > 0 && !t.takeLogRead() {
			return true, nil
		}
		var page []*loggingpb.LogEntry
		token, err := pager.NextPage(&page)
		if err != nil {
			return false, errorf(err, "list log entries")
		}
		for _, e := range page {
			col.Add(e)
		}
		if token == "" {
			return false, nil
		}
	}
	return true, nil
}

// natRouters returns the ids of the Cloud Routers in the VM's region whose
// NAT serves its network: the routers whose entries are the VM's.
func natRouters(ctx context.Context, c *gcp.Clients, t *Target) ([]string, error) {
	nets := map[string]bool{}
	for _, nic := range t.Instance.GetNetworkInterfaces() {
		nets[nic.GetNetwork()] = true
	}
	region := t.Zone
	if i := strings.LastIndex(region, "-"); i > 0 {
		region = region[:i]
	}
	var ids []string
	it := c.Routers.List(ctx, &computepb.ListRoutersRequest{Project: t.Project, Region: region})
	for {
		r, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return ids, nil
		}
		if err != nil {
			return nil, errorf(err, "list the Cloud Routers of %s", region)
		}
		if nets[r.GetNetwork()] && len(r.GetNats()) > 0 {
			ids = append(ids, strconv.FormatUint(r.GetId(), 10))
		}
	}
}
