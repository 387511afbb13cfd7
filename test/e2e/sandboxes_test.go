package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// TestEachSandboxAnswersForItsOwnAccount: a sandbox Provision built under
// another name has its own account, and the detection rules judge that
// account's calls against that sandbox. Its privileged call contains it
// and leaves the configured sandbox running; its read of its own managed
// key (which Provision created and granted it) is no theft, for it or for
// the configured sandbox.
func TestEachSandboxAnswersForItsOwnAccount(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	const second = "second-sandbox"
	if code, rep := s.provision(t, `{"name":"`+second+`"}`); code != http.StatusOK {
		t.Fatalf("provision %s = %d: %+v", second, code, rep.Failed())
	}
	id, err := provisioner.ServiceAccountID(second)
	if err != nil {
		t.Fatal(err)
	}
	account := config.AccountEmail(id, s.cfg.Cloud.GCP.Project)
	configured := "cc-sandbox@" + s.cfg.Cloud.GCP.Project + ".iam.gserviceaccount.com"
	if s.cfg.Cloud.GCP.ServiceAccount != configured {
		t.Fatalf("the demo's sandbox account is %s, the samples name %s", s.cfg.Cloud.GCP.ServiceAccount, configured)
	}
	status := func(name string) string {
		inst, _ := s.emu.Compute.Instance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, name)
		return inst.GetStatus()
	}

	// The second sandbox's account reads its own managed key, from its VM
	// (callerIp its internal address, the project's network).
	own := s.cfg.SandboxSecrets(second)[0]
	read := strings.NewReplacer("someone@example.com", account, "/secrets/anthropic-api-key/", "/secrets/"+own+"/").
		Replace(string(s.alert(t, "logentry-secret-access-unknown-principal.json")))
	if !strings.Contains(read, own) {
		t.Fatalf("the sample no longer names anthropic-api-key: %s", read)
	}
	vm, _ := s.emu.Compute.Instance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, second)
	read = strings.ReplaceAll(read, `"callerIp": "203.0.113.7"`, `"callerIp": "`+vm.GetNetworkInterfaces()[0].GetNetworkIP()+`", "callerNetwork": "`+audit.CallerNetwork(s.cfg.Cloud.GCP.Project)+`"`)
	if code := s.postEvent(t, "HandleLogEntry", binary, []byte(read), nil); code != http.StatusOK {
		t.Fatalf("HandleLogEntry = %d\n%s", code, s.logs)
	}
	if n := len(s.incidents(t)); n != 0 {
		t.Errorf("%d incidents from sandbox %s reading its own key, want none", n, second)
	}

	// The second sandbox's account changes IAM policy.
	call := strings.ReplaceAll(string(s.alert(t, "logentry-setiampolicy-by-sandbox-sa.json")), configured, account)
	if code := s.postEvent(t, "HandleLogEntry", binary, []byte(call), nil); code != http.StatusOK {
		t.Fatalf("HandleLogEntry = %d\n%s", code, s.logs)
	}
	if st := status(second); st != "TERMINATED" && st != "STOPPING" {
		t.Errorf("sandbox %s, whose account made the call, is %s: want it stopped\n%s", second, st, s.logs)
	}
	if st := status(s.cfg.VM.Name); st != "RUNNING" {
		t.Errorf("the configured sandbox %s is %s: another sandbox's call must not touch it", s.cfg.VM.Name, st)
	}
	var found bool
	for _, r := range s.incidents(t) {
		if r.Instance == second && r.Incident.Trigger == "sandbox-sa-privileged-call" {
			found = true
		}
	}
	if !found {
		t.Errorf("no incident on %s triggered by sandbox-sa-privileged-call: %v", second, s.incidents(t))
	}
}
