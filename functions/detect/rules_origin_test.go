package detect

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// originEntry is a Data Access entry of a call by principal at 10:00 UTC:
// method on resource, with requestMetadata rm and authenticationInfo
// extras (JSON members, may be empty).
func originEntry(principal, method, resource, rm, auth string) []byte {
	if auth != "" {
		auth = "," + auth
	}
	p := `{"authenticationInfo":{"principalEmail":"` + principal + `"` + auth + `},"methodName":"` + method + `","resourceName":"` + resource + `"`
	if rm != "" {
		p += `,"requestMetadata":` + rm
	}
	p += `}`
	e := string(logEntry("projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Fdata_access", p))
	return []byte(strings.Replace(e, `"insertId":"x1",`, `"insertId":"x1","timestamp":"2026-12-06T10:00:00Z",`, 1))
}

func TestOriginRules(t *testing.T) {
	const (
		read     = "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"
		key      = "projects/482910375561/secrets/anthropic-api-key/versions/latest"
		metric   = "google.monitoring.v3.MetricService.CreateTimeSeries"
		unknown  = `"//compute.googleapis.com/projects/coopguard-demo/global/networks/__unknown__"`
		fromVM   = `{"callerIp":"10.10.0.5","callerNetwork":` + unknown + `}`
		minted   = `"serviceAccountDelegationInfo":[{"firstPartyPrincipal":{"principalEmail":"service-482910375561@compute-system.iam.gserviceaccount.com"}}]`
		outside  = `{"callerIp":"203.0.113.7"}`
		operator = "operator@example.com"
	)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sb := testSandbox
	sb.SubnetCIDR = "10.10.0.0/24"
	sb.VMStatus = "RUNNING"
	sb.VMStartedAt = at("2026-12-06T09:00:00Z")
	with := func(f func(*Sandbox)) Sandbox {
		s := sb
		f(&s)
		return s
	}
	tests := []struct {
		name    string
		entry   []byte
		sandbox Sandbox
		want    []string
	}{
		{"the agent reads its key from its VM", originEntry(sandboxSA, read, key, fromVM, minted), sb, nil},
		{"the VM's call names its network", originEntry(sandboxSA, metric, "projects/coopguard-demo",
			`{"callerIp":"10.10.0.5","callerNetwork":"//compute.googleapis.com/projects/coopguard-demo/global/networks/coopguard-net"}`, minted), sb, nil},
		{"without a subnet range, any private address of the network", originEntry(sandboxSA, metric, "projects/coopguard-demo", `{"callerIp":"10.99.0.5","callerNetwork":`+unknown+`}`, minted),
			with(func(s *Sandbox) { s.SubnetCIDR = "" }), nil},
		{"an entry that says nothing of the origin", originEntry(sandboxSA, metric, "projects/coopguard-demo", "", ""), sb, nil},
		{"someone else from outside", originEntry(operator, metric, "projects/coopguard-demo", outside, ""), sb, nil},

		{"the stolen token reads the key from outside", originEntry(sandboxSA, read, key, outside, ""), sb, []string{RuleSandboxSAOutside}},
		{"a public address with the project's network", originEntry(sandboxSA, metric, "projects/coopguard-demo", `{"callerIp":"34.66.19.193","callerNetwork":`+unknown+`}`, minted), sb,
			[]string{RuleSandboxSAOutside}},
		{"another network of the project", originEntry(sandboxSA, metric, "projects/coopguard-demo",
			`{"callerIp":"10.10.0.5","callerNetwork":"//compute.googleapis.com/projects/coopguard-demo/global/networks/default"}`, minted), sb, []string{RuleSandboxSAOutside}},
		{"a network of another project", originEntry(sandboxSA, metric, "projects/coopguard-demo",
			`{"callerIp":"10.10.0.5","callerNetwork":"//compute.googleapis.com/projects/elsewhere/global/networks/__unknown__"}`, minted), sb, []string{RuleSandboxSAOutside}},
		{"a VM of another project or organisation", originEntry(sandboxSA, metric, "projects/coopguard-demo", `{"callerIp":"gce-internal-ip"}`, minted), sb,
			[]string{RuleSandboxSAOutside}},
		{"an address outside the sandbox's subnet", originEntry(sandboxSA, metric, "projects/coopguard-demo", `{"callerIp":"10.20.0.3","callerNetwork":`+unknown+`}`, minted), sb,
			[]string{RuleSandboxSAOutside}},
		{"Google's production network", originEntry(sandboxSA, metric, "projects/coopguard-demo", `{"callerIp":"private"}`, ""), sb, []string{RuleSandboxSAOutside}},

		{"a user's token for the account, from the VM", originEntry(sandboxSA, metric, "projects/coopguard-demo", fromVM,
			`"serviceAccountDelegationInfo":[{"firstPartyPrincipal":{"principalEmail":"dev@example.com"}}]`), sb, []string{RuleSandboxSAImpersonated}},
		{"a federated identity's token", originEntry(sandboxSA, metric, "projects/coopguard-demo", fromVM,
			`"serviceAccountDelegationInfo":[{"thirdPartyPrincipal":{"thirdPartyClaims":{"sub":"x"}}}]`), sb, []string{RuleSandboxSAImpersonated}},
		{"a look-alike service agent", originEntry(sandboxSA, metric, "projects/coopguard-demo", fromVM,
			`"serviceAccountDelegationInfo":[{"firstPartyPrincipal":{"principalEmail":"service-1@compute-system.evil.example"}}]`), sb, []string{RuleSandboxSAImpersonated}},

		{"a key read after the VM stopped", originEntry(sandboxSA, read, key, fromVM, minted),
			with(func(s *Sandbox) { s.VMStatus, s.VMStoppedAt = "TERMINATED", at("2026-12-06T09:59:00Z") }), []string{RuleSandboxKeyReadVMOff}},
		{"a key read while the VM was off, started since", originEntry(sandboxSA, read, key, fromVM, minted),
			with(func(s *Sandbox) {
				s.VMStoppedAt, s.VMStartedAt = at("2026-12-06T09:59:00Z"), at("2026-12-06T10:01:00Z")
			}), []string{RuleSandboxKeyReadVMOff}},
		{"a key read before a VM never stopped came up", originEntry(sandboxSA, read, key, fromVM, minted),
			with(func(s *Sandbox) { s.VMStatus, s.VMStartedAt = "STAGING", time.Time{} }), []string{RuleSandboxKeyReadVMOff}},
		{"a key read just before the VM stopped", originEntry(sandboxSA, read, key, fromVM, minted),
			with(func(s *Sandbox) { s.VMStatus, s.VMStoppedAt = "TERMINATED", at("2026-12-06T10:00:01Z") }), nil},
		{"a key read while the guest shuts down", originEntry(sandboxSA, read, key, fromVM, minted),
			with(func(s *Sandbox) { s.VMStatus = "STOPPING" }), nil},
		{"a key read by a VM that stopped and started before", originEntry(sandboxSA, read, key, fromVM, minted),
			with(func(s *Sandbox) { s.VMStoppedAt = at("2026-12-06T08:00:00Z") }), nil},
		{"the VM's status not looked up", originEntry(sandboxSA, read, key, fromVM, minted),
			with(func(s *Sandbox) { s.VMStatus = "" }), nil},
		{"the stolen token reads the key while the VM is off", originEntry(sandboxSA, read, key, outside, ""),
			with(func(s *Sandbox) { s.VMStatus, s.VMStoppedAt = "TERMINATED", at("2026-12-06T09:00:00Z") }), []string{RuleSandboxSAOutside, RuleSandboxKeyReadVMOff}},
	}
	eng := defaultEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, eng, tt.entry, tt.sandbox, tt.want) })
	}
}

// TestSinkLeavesTheVMsOwnCalls pins that the origin clause does not wake
// the responder for every call the VM makes: only its key reads pass.
func TestSinkLeavesTheVMsOwnCalls(t *testing.T) {
	sb := testSandbox
	sb.SubnetCIDR = "10.10.0.0/24"
	f, err := logging.ParseFilter(SinkFilter(sb))
	if err != nil {
		t.Fatal(err)
	}
	vm := `{"callerIp":"10.10.0.5","callerNetwork":"//compute.googleapis.com/projects/coopguard-demo/global/networks/__unknown__"}`
	minted := `"serviceAccountDelegationInfo":[{"firstPartyPrincipal":{"principalEmail":"service-482910375561@compute-system.iam.gserviceaccount.com"}}]`
	for name, tt := range map[string]struct {
		entry []byte
		want  bool
	}{
		"a metric write":   {originEntry(sandboxSA, "google.monitoring.v3.MetricService.CreateTimeSeries", "projects/coopguard-demo", vm, minted), false},
		"a key read":       {originEntry(sandboxSA, "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion", "projects/1/secrets/anthropic-api-key/versions/1", vm, minted), true},
		"the same, stolen": {originEntry(sandboxSA, "google.monitoring.v3.MetricService.CreateTimeSeries", "projects/coopguard-demo", `{"callerIp":"203.0.113.7"}`, ""), true},
	} {
		var pb loggingpb.LogEntry
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(tt.entry, &pb); err != nil {
			t.Fatal(err)
		}
		if got := f.MatchEntry(&pb); got != tt.want {
			t.Errorf("%s: the sink admits it: %v, want %v", name, got, tt.want)
		}
	}
}
