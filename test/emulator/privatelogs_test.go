package emulator_test

import (
	"errors"
	"slices"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/api/monitoredres"

	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestPrivateLogsNeedTheirPermission pins that entries.list returns Data
// Access audit entries only to a caller holding
// logging.privateLogEntries.list (roles/logging.privateLogViewer, owner,
// coopguard's responder), and leaves them out for the others
// (roles/logging.viewer, roles/viewer), who still read the rest.
func TestPrivateLogsNeedTheirPermission(t *testing.T) {
	const project = "coopguard-demo"
	emu, ctx := startProject(t, project)
	for member, role := range map[string]string{
		"user:viewer@example.com": "roles/logging.viewer", "user:auditor@example.com": "roles/logging.privateLogViewer", "user:reader@example.com": "roles/viewer",
	} {
		emu.IAM.Grant("projects/"+project, member, role)
	}
	res := &monitoredres.MonitoredResource{Type: "audited_resource", Labels: map[string]string{"project_id": project}}
	emu.Logging.Append(ctx,
		&loggingpb.LogEntry{LogName: "projects/" + project + "/logs/cloudaudit.googleapis.com%2Fdata_access", Resource: res, InsertId: "read"},
		&loggingpb.LogEntry{LogName: "projects/" + project + "/logs/cloudaudit.googleapis.com%2Factivity", Resource: res, InsertId: "write"})
	tests := []struct {
		principal string
		want      []string
	}{
		{emulator.Operator, []string{"read", "write"}},
		{"auditor@example.com", []string{"read", "write"}},
		{"viewer@example.com", []string{"write"}},
		{"reader@example.com", []string{"write"}},
	}
	for _, tt := range tests {
		t.Run(tt.principal, func(t *testing.T) {
			c, err := emu.ClientsAs(ctx, project, tt.principal)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			it := c.Logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + project}, Filter: `logName:"cloudaudit.googleapis.com"`})
			var got []string
			for {
				e, err := it.Next()
				if errors.Is(err, iterator.Done) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.GetInsertId())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s reads %v, want %v", tt.principal, got, tt.want)
			}
		})
	}
}
