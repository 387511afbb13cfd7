package logging_test

import (
	"context"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestAuditLogNamesAreReserved: a caller cannot write an entry under a
// Cloud Audit Logs log id, whatever its role; any other log name, however
// alike, it may write.
func TestAuditLogNamesAreReserved(t *testing.T) {
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	c, err := emu.Clients(context.Background(), "reserved-proj")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, want := range map[string]codes.Code{
		"projects/reserved-proj/logs/cloudaudit.googleapis.com%2Factivity":    codes.InvalidArgument,
		"projects/reserved-proj/logs/cloudaudit.googleapis.com%2Fdata_access": codes.InvalidArgument,
		"projects/reserved-proj/logs/cloudaudit.googleapis.com%2Factivity_":   codes.OK, // a look-alike: coopguard must ignore it
		"projects/reserved-proj/logs/cloudaudit-activity":                     codes.OK,
	} {
		_, err := c.Logging.WriteLogEntries(context.Background(), &loggingpb.WriteLogEntriesRequest{
			LogName: name, Resource: &monitoredres.MonitoredResource{Type: "global"},
			Entries: []*loggingpb.LogEntry{{Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "x"}}},
		})
		if status.Code(err) != want {
			t.Errorf("write to %s = %v, want %v", name, err, want)
		}
	}
}
