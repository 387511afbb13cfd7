package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// maxExcerptEntries bounds how many entries collect-logs reads.
const maxExcerptEntries = 1000

// CollectLogs reads the incident window's log entries of the VM into the
// report: counts by severity and the first few calls. It keeps no payload
// text, which could carry secrets.
type CollectLogs struct{}

// Name implements Action.
func (CollectLogs) Name() string { return "collect-logs" }

// Mutates implements Action.
func (CollectLogs) Mutates() bool { return false }

// Run implements Action.
func (CollectLogs) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	start := t.Incident.StartedAt
	if start.IsZero() {
		start = t.Now()
	}
	from := start.Add(-t.LogWindow).UTC().Format(time.RFC3339)
	to := t.Now().UTC().Format(time.RFC3339)
	filter := fmt.Sprintf(`resource.type="gce_instance" AND resource.labels.instance_id="%d" AND timestamp>="%s" AND timestamp<="%s"`,
		t.Instance.GetId(), from, to)
	ex := &incident.LogExcerpt{Filter: filter, BySeverity: map[string]int{}}
	it := c.Logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + t.Project},
		Filter:        filter,
		OrderBy:       "timestamp asc",
		PageSize:      200,
	})
	for ex.Entries < maxExcerptEntries {
		e, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return Outcome{Target: t.instanceRef()}, errorf(err, "list log entries")
		}
		ex.Entries++
		ex.BySeverity[e.GetSeverity().String()]++
		if len(ex.First) < 5 {
			ex.First = append(ex.First, summarize(e))
		}
	}
	return Outcome{
		Result:  incident.ResultDone,
		Target:  t.instanceRef(),
		Detail:  fmt.Sprintf("%d entries from %s", ex.Entries, from),
		Excerpt: ex,
	}, nil
}

// summarize is one line about an entry: time, severity, log, and for audit
// logs the method and principal. Never payload text.
func summarize(e *loggingpb.LogEntry) string {
	s := e.GetTimestamp().AsTime().UTC().Format(time.RFC3339) + " " + e.GetSeverity().String() + " " + e.GetLogName()
	if p := e.GetProtoPayload(); p != nil {
		s += " " + p.GetTypeUrl()
	}
	return s
}
