package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// TestKeyReadWhileTheVMIsOff: the sandbox's account reading its key while
// its VM is stopped contains the sandbox, even when the entry says the
// call came from the sandbox's network: the VM's status and last stop,
// read from the Compute API at decision time, say it cannot have been the
// VM. The same read while the VM runs changes nothing. On GCP's clock (a
// stop takes 90 s).
func TestKeyReadWhileTheVMIsOff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		stopped bool
		trigger string
	}{
		{"VM running", false, ""},
		{"VM stopped", true, detect.RuleSandboxKeyReadVMOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t, fastAgentTimeout)
			s.emu.GCPTime()
			ctx := context.Background()
			if tc.stopped {
				g := s.cfg.Cloud.GCP
				if _, err := s.operator.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: s.cfg.VM.Name}); err != nil {
					t.Fatal(err)
				}
				for i := 0; s.instance(t).GetStatus() != "TERMINATED"; i++ {
					if i == 10 {
						t.Fatalf("the VM is %s ten emulated minutes after its stop", s.instance(t).GetStatus())
					}
					s.emu.Clock.Advance(time.Minute)
				}
				s.emu.Clock.Advance(time.Second)
			}
			// The read, as GCP writes a call from the sandbox's VM.
			inst := s.instance(t)
			read := s.alert(t, "logentry-secret-access-unknown-principal.json",
				"someone@example.com", s.cfg.Cloud.GCP.ServiceAccount,
				`"callerIp": "203.0.113.7"`, `"callerIp": "`+inst.GetNetworkInterfaces()[0].GetNetworkIP()+`", "callerNetwork": "`+audit.CallerNetwork(s.cfg.Cloud.GCP.Project)+`"`,
				"2026-11-22T09:52:09.870Z", s.emu.Clock.Now().UTC().Format(time.RFC3339Nano))
			if code := s.postEvent(t, "HandleLogEntry", binary, read, nil); code != http.StatusOK {
				t.Fatalf("HandleLogEntry = %d\n%s", code, s.logs)
			}
			var got []string
			for _, r := range s.incidents(t) {
				got = append(got, r.Incident.Trigger)
			}
			switch {
			case tc.trigger == "" && len(got) > 0:
				t.Errorf("the running VM's read opened incidents %v\n%s", got, s.logs)
			case tc.trigger != "" && (len(got) != 1 || got[0] != tc.trigger):
				t.Errorf("incidents %v, want one by %s\n%s", got, tc.trigger, s.logs)
			}
			if tc.trigger != "" {
				for _, v := range s.versionStates(t) {
					if v == "ENABLED" {
						t.Errorf("key versions %v after containment, want none enabled", s.versionStates(t))
						break
					}
				}
			}
		})
	}
}
