package attack

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestScenarios plays every drill on a freshly provisioned sandbox: each
// attack ends contained, each benign counterpart changes nothing.
func TestScenarios(t *testing.T) {
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			// Each drill has its own World (emulator, Env, incident
			// store project): drills run side by side.
			t.Parallel()
			logs := &fixture.Buffer{}
			ctx, cancel := drillContext(t)
			defer cancel()
			w, err := Start(ctx, Options{Log: logs})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// Benign drills wait only until the sink's entries are
			// answered, so a short deadline does not make them pass.
			r, err := Run(ctx, w, s, RunOptions{})
			var out bytes.Buffer
			if r != nil {
				r.Print(&out)
			}
			if err != nil {
				t.Fatalf("%v\n%s\nfunctions' log:\n%s", err, out.String(), logs)
			}
			if !r.Passed() {
				t.Fatalf("%s\nfunctions' log:\n%s", out.String(), logs)
			}
			if s.Kind == Attack && (r.Routed == 0 || len(r.Audit) == 0) {
				t.Errorf("contained without the chain (audit %d, routed %d):\n%s", len(r.Audit), r.Routed, out.String())
			}
			// The storm's 500 look-alikes stop at the sink: only the
			// genuine audit entries of the refused call reach the responder.
			if s.Name == "junk-storm" && r.Routed > 2 {
				t.Errorf("the sink routed %d entries of a storm of look-alikes and one refused call, want only the genuine ones", r.Routed)
			}
			if s.Name == "exfiltration" {
				checkExfilEvidence(t, w, r)
			}
			if strings.Contains(out.String()+logs.String(), "sk-drill-") {
				t.Errorf("a key payload appeared in the drill's output or log")
			}
			t.Log("\n" + out.String())
		})
	}
}

// drillContext bounds a drill by the test binary's own deadline (go test
// -timeout), less a margin to report what the drill was still waiting
// for: no real-time bound of its own, which a drill sharing a loaded
// machine with others could outlast while still making progress.
func drillContext(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		return context.WithCancel(context.Background())
	}
	return context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
}

// checkExfilEvidence: the exfiltration drill's report holds, from outside
// the VM, the sandbox account's audited reads and the NAT destination the
// key went to, and the VM's own entries marked untrusted.
func checkExfilEvidence(t *testing.T, w *World, r *Result) {
	t.Helper()
	if len(r.Incidents) == 0 || r.Incidents[0].Evidence == nil {
		t.Fatalf("no evidence in the report: %+v", r.Incidents)
	}
	ev := r.Incidents[0].Evidence
	a, n, vm := ev.Audit, ev.NAT, ev.VM
	if a == nil || a.Source != incident.FromOutside || a.Principal != w.Cfg.Cloud.GCP.ServiceAccount || a.Entries < 2 || a.Allowed < 2 {
		t.Errorf("audit evidence = %+v, want the sandbox account's two reads, from outside the VM", a)
	} else if len(a.Methods) == 0 || !strings.HasSuffix(a.Methods[0].Name, "AccessSecretVersion") {
		t.Errorf("audit methods = %+v, want AccessSecretVersion first", a.Methods)
	}
	want := ExfilAddress + ":443/tcp"
	if n == nil || n.Source != incident.FromOutside || n.Translated != 1 || len(n.Destinations) != 1 || n.Destinations[0].Name != want {
		t.Errorf("NAT evidence = %+v, want one connection to %s, from outside the VM", n, want)
	}
	if vm == nil || vm.Source != incident.FromVM {
		t.Errorf("VM evidence = %+v, want it marked %q", vm, incident.FromVM)
	}
}
