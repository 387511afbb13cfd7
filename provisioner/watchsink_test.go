package provisioner_test

import (
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// TestWatchFilter: the watch sink of a sandbox in its own project routes
// a change to that sandbox's two sinks by anyone but coopguard's
// provisioner, read from the project's Admin Activity log, and nothing
// else: not another sink's change, not another sandbox's sinks, not a
// look-alike log the sandbox could write, not the provisioner's repair.
func TestWatchFilter(t *testing.T) {
	cfg := config.Demo()
	const project = "sandbox-proj-7"
	sb, err := provisioner.SandboxIn(&cfg, project, "agent-one", "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := logging.ParseFilter(sb.WatchFilter())
	if err != nil {
		t.Fatalf("watch filter %q: %v", sb.WatchFilter(), err)
	}
	activity := "projects/" + project + "/logs/cloudaudit.googleapis.com%2Factivity"
	entry := func(log, method, resource, principal string) *loggingpb.LogEntry {
		p, err := anypb.New(&audit.AuditLog{ServiceName: "logging.googleapis.com", MethodName: method, ResourceName: resource,
			AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: principal}})
		if err != nil {
			t.Fatal(err)
		}
		return &loggingpb.LogEntry{LogName: log, Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: p}}
	}
	const del, upd = "google.logging.v2.ConfigServiceV2.DeleteSink", "google.logging.v2.ConfigServiceV2.UpdateSink"
	sinks := "projects/" + project + "/sinks/"
	prov := config.AccountEmail(config.AccountProvisioner, cfg.Cloud.GCP.Project)
	tests := []struct {
		name  string
		entry *loggingpb.LogEntry
		want  bool
	}{
		{"detection sink deleted by the owner", entry(activity, del, sinks+sb.Sink(), "owner@example.com"), true},
		{"detection sink refiltered", entry(activity, upd, sinks+sb.Sink(), "owner@example.com"), true},
		{"watch sink disabled", entry(activity, upd, sinks+sb.WatchSink(), "owner@example.com"), true},
		{"provisioner's repair", entry(activity, upd, sinks+sb.Sink(), prov), false},
		{"the team's own sink deleted", entry(activity, del, sinks+"team-archive", "owner@example.com"), false},
		{"another sandbox's sink", entry(activity, del, sinks+"coopguard-agent-two-sink", "owner@example.com"), false},
		{"a sink created", entry(activity, "google.logging.v2.ConfigServiceV2.CreateSink", sinks+sb.Sink(), "owner@example.com"), false},
		{"look-alike user log", entry("projects/"+project+"/logs/cloudaudit.googleapis.com-activity", del, sinks+sb.Sink(), "owner@example.com"), false},
		{"another project's log", entry("projects/other/logs/cloudaudit.googleapis.com%2Factivity", del, sinks+sb.Sink(), "owner@example.com"), false},
	}
	for _, tt := range tests {
		if got := f.MatchEntry(tt.entry); got != tt.want {
			t.Errorf("%s: watch filter matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
