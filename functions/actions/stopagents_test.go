package actions_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestStopAgentsAck pins issue 13's honest ack, read by the follow-up
// (issue 19: stop-agents only sets the flag, nothing waits for the VM):
// the flag names the incident; only an ack that names the same incident
// and was written after the flag counts, and it is the VM's word
// ("unverified"), never a confirmation; an ack for another incident, one
// older than the flag or one already there before it is stale, no ack is
// missing once agent_stop_timeout has passed, and nothing fails.
func TestStopAgentsAck(t *testing.T) {
	const id = "alert-ack-1"
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		// standIn makes the emulated VM ack the flag as the watcher would.
		standIn bool
		// enabled sets enable-guest-attributes=TRUE on the VM.
		enabled bool
		// forged is a guest attribute the VM wrote before the flag.
		forged string
		want   string
	}{
		{name: "the VM reports for this incident", standIn: true, enabled: true, want: actions.AckUnverified + ": stopped " + id + " "},
		{name: "guest attributes off", standIn: true, want: actions.AckMissing + ": no report from the VM"},
		{name: "the watcher idle, never acking", enabled: true, forged: fmt.Sprintf("running %d", start.Unix()), want: actions.AckMissing + ": no report from the VM"},
		{name: "an ack dated before the incident", enabled: true, forged: fmt.Sprintf("stopped %s %d", id, start.Add(-time.Hour).Unix()), want: actions.AckStale + ": the VM's report"},
		{name: "an ack dated after the flag but there before it", enabled: true, forged: fmt.Sprintf("stopped %s %d", id, start.Add(30*time.Second).Unix()), want: "was there before the flag was set"},
		{name: "an ack for another incident", enabled: true, forged: fmt.Sprintf("stopped alert-other %d", start.Unix()), want: `names incident "alert-other", not ` + id},
		{name: "an ack naming no incident", enabled: true, forged: fmt.Sprintf("stopped %d", start.Unix()), want: actions.AckStale},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, err := emulator.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = emu.Close() })
			emu.Clock.Set(start)
			if tc.standIn {
				emu.Compute.StandInForWatcher()
			}
			c, err := emu.Clients(context.Background(), lpProject)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			md := &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String("coopguard-agents"), Value: proto.String("run")}}}
			if tc.enabled {
				md.Items = append(md.Items, &computepb.Items{Key: proto.String("enable-guest-attributes"), Value: proto.String("TRUE")})
			}
			inst := emu.Compute.SeedInstance(lpProject, lpZone, &computepb.Instance{Name: proto.String("claude-sandbox"), Metadata: md})
			if tc.forged != "" {
				emu.Compute.SetGuestAttribute(lpProject, lpZone, "claude-sandbox", "coopguard", "agents", tc.forged)
			}
			tgt := &actions.Target{Project: lpProject, Zone: lpZone, Instance: inst, Now: emu.Clock.Now, AgentStopTimeout: 1500 * time.Millisecond,
				Incident: incident.Incident{ID: id, StartedAt: start, Playbook: incident.PlaybookContain}}
			flag, err := actions.StopAgents{}.Run(testCtx(t), c, tgt)
			if err != nil || flag.Result != incident.ResultDone {
				t.Fatalf("stop-agents: %s %v", flag.Result, err)
			}
			// The follow-up looks until the VM answers or the timeout
			// passes, each look a minute apart on the emulated clock.
			tgt.Prior = map[string]incident.ActionResult{"stop-agents": {Action: "stop-agents", Result: flag.Result, State: flag.State}}
			var out actions.Outcome
			for look := 0; look < 3; look++ {
				if out, err = (actions.AgentsAck{}).Run(testCtx(t), c, tgt); err != nil {
					t.Fatalf("agents-ack failed: %v", err)
				}
				if out.Result != incident.ResultPending {
					break
				}
				emu.Clock.Advance(time.Minute)
			}
			if out.Result != incident.ResultDone || !strings.Contains(out.Detail, tc.want) || strings.Contains(out.Detail, "confirmed") {
				t.Errorf("agents-ack: %s %q, want done with %q and never \"confirmed\"", out.Result, out.Detail, tc.want)
			}
			got, _ := emu.Compute.Instance(lpProject, lpZone, "claude-sandbox")
			for _, it := range got.GetMetadata().GetItems() {
				if it.GetKey() == "coopguard-agents" && it.GetValue() != "stop "+id {
					t.Errorf("flag = %q, want %q", it.GetValue(), "stop "+id)
				}
			}
		})
	}
}
