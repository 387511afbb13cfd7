package attack

import (
	"bytes"
	"testing"

	auditpb "google.golang.org/genproto/googleapis/cloud/audit"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestStolenTokenOutside: the sandbox's own key, read with its account's
// token from outside Google Cloud, contains the sandbox by where the call
// came from; the same read from the VM changes nothing.
func TestStolenTokenOutside(t *testing.T) {
	for _, tc := range []struct {
		drill, trigger string
		// ip is the audit entry's callerIp; "" means the VM's internal one.
		ip string
	}{
		{"gcp.initial-access.use-compute-sa-outside-gcp", detect.RuleSandboxSAOutside, audit.OutsideIP},
		{"own-key-read", "", ""},
	} {
		t.Run(tc.drill, func(t *testing.T) {
			t.Parallel()
			logs := &fixture.Buffer{}
			ctx, cancel := drillContext(t)
			defer cancel()
			w, err := Start(ctx, Options{Log: logs})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			s, err := Find(tc.drill)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(ctx, w, s, RunOptions{})
			var out bytes.Buffer
			if r != nil {
				r.Print(&out)
			}
			if err != nil || !r.Passed() {
				t.Fatalf("%v\n%s\nfunctions' log:\n%s", err, out.String(), logs)
			}
			if len(r.Audit) != 1 {
				t.Fatalf("%d audit entries by the sandbox's account, want its one read:\n%s", len(r.Audit), out.String())
			}
			inst, _ := w.Emu.Compute.Instance(w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name)
			want := tc.ip
			if want == "" {
				want = inst.GetNetworkInterfaces()[0].GetNetworkIP()
			}
			if got := callerIP(t, w, r.Audit[0].InsertID); got != want {
				t.Errorf("the read's callerIp = %q, want %q", got, want)
			}
			switch {
			case tc.trigger == "" && len(r.Incidents) != 0:
				t.Errorf("the VM's own read opened %d incidents:\n%s", len(r.Incidents), out.String())
			case tc.trigger != "" && (len(r.Incidents) != 1 || r.Incidents[0].Incident.Trigger != tc.trigger):
				t.Errorf("want one incident by %s:\n%s", tc.trigger, out.String())
			}
		})
	}
}

// callerIP is the callerIp of the audit entry insertID.
func callerIP(t *testing.T, w *World, insertID string) string {
	t.Helper()
	for _, e := range w.Emu.Logging.AllEntries() {
		if e.GetInsertId() != insertID {
			continue
		}
		var a auditpb.AuditLog
		if err := e.GetProtoPayload().UnmarshalTo(&a); err != nil {
			t.Fatal(err)
		}
		return a.GetRequestMetadata().GetCallerIp()
	}
	t.Fatalf("no entry %s", insertID)
	return ""
}
