package logging_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/cloud/audit"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestListQuota: entries.list allows 60 requests per minute per project,
// each page a request; the 61st is RESOURCE_EXHAUSTED until the minute
// passes on the emulator clock.
func TestListQuota(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	page := func(project string) error {
		_, err := e.logs.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + project}}).Next()
		if err != nil && err != iterator.Done {
			return err
		}
		return nil
	}
	for i := 0; i < 59; i++ {
		if err := page("p"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	e.clock.Advance(30 * time.Second)
	if err := page("p"); err != nil {
		t.Fatalf("request 60: %v", err)
	}
	err := page("p")
	grpctest.WantCode(t, err, codes.ResourceExhausted)
	if err := page("q"); err != nil {
		t.Fatalf("another project's quota is its own: %v", err)
	}
	// The first 59 requests leave the sliding minute; the 60th stays.
	e.clock.Advance(31 * time.Second)
	for i := 0; i < 59; i++ {
		if err := page("p"); err != nil {
			t.Fatalf("next minute, request %d: %v", i+1, err)
		}
	}
	grpctest.WantCode(t, page("p"), codes.ResourceExhausted)
}

// TestRetention: entries.list returns nothing older than the bucket's
// retention (_Default 30 days; _Required, which holds Admin Activity and
// System Event audit logs, 400 days), and entries whose timestamp lies
// outside that window or more than a day ahead are not ingested.
func TestRetention(t *testing.T) {
	e := start(t, t0)
	ctx := context.Background()
	activity := "projects/p/logs/cloudaudit.googleapis.com%2Factivity"
	dataAccess := "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"
	write := func(log, id string, at time.Time) {
		t.Helper()
		le := auditEntry(t, log, id, ltype.LogSeverity_NOTICE, at, &audit.AuditLog{MethodName: "m"})
		le.Resource = gce()
		if _, err := writeEntries(ctx, e, &loggingpb.WriteLogEntriesRequest{Entries: []*loggingpb.LogEntry{le}}); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	write(activity, "admin-10d", t0.Add(-10*day))
	write(dataAccess, "data-10d", t0.Add(-10*day))
	write(activity, "admin-100d", t0.Add(-100*day))
	write(dataAccess, "data-100d", t0.Add(-100*day))
	write(activity, "admin-500d", t0.Add(-500*day))
	write(dataAccess, "data-future", t0.Add(2*day))
	e.fake.Append(ctx, &loggingpb.LogEntry{LogName: dataAccess, InsertId: "append-100d", Resource: gce(), Timestamp: timestamppb.New(t0.Add(-100 * day))})

	tests := []struct {
		advance time.Duration
		want    string
	}{
		{0, "admin-100d admin-10d data-10d"},
		{25 * day, "admin-100d admin-10d"},
		{300 * day, "admin-10d"},
		{100 * day, ""},
	}
	for _, tt := range tests {
		e.clock.Advance(tt.advance)
		got, err := list(e, "")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("after %v more: got %q, want %q", tt.advance, strings.Join(got, " "), tt.want)
		}
	}
}
