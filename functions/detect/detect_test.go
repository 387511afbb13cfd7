package detect

import (
	"cloud.google.com/go/logging/apiv2/loggingpb"
	_ "google.golang.org/genproto/googleapis/cloud/audit" // AuditLog payloads
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudcoop/coopguard/test/emulator/logging"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/events"
)

const sandboxSA = "cc-sandbox@coopguard-demo.iam.gserviceaccount.com"

var testSandbox = Sandbox{
	Project:        "coopguard-demo",
	ServiceAccount: sandboxSA,
	Network:        "coopguard-net",
	InstanceName:   "claude-sandbox",
	Secrets:        []string{"anthropic-api-key"},
	Canaries:       []string{"claude-sandbox-backup-key"},
	Resources:      []string{"coopguard-net", "coopguard-claude-sandbox-deny-ingress", "coopguard-claude-sandbox-sink", "coopguard-claude-sandbox-egress"},
	Coopguard:      []string{"coopguard-responder@coopguard-demo.iam.gserviceaccount.com"},
}

// withAlerting is testSandbox knowing names as coopguard's alerting.
func withAlerting(names ...string) Sandbox {
	sb := testSandbox
	sb.Alerting = names
	return sb
}

// defaultEngine compiles DefaultRules or fails the test.
func defaultEngine(tb testing.TB) *Engine {
	tb.Helper()
	eng, err := Compile(DefaultRules())
	if err != nil {
		tb.Fatalf("Compile(DefaultRules()): %v", err)
	}
	return eng
}

// decode decodes a log entry or fails the test.
func decode(tb testing.TB, data []byte) events.LogEntry {
	tb.Helper()
	e, err := events.DecodeLogEntry(data)
	if err != nil {
		tb.Fatalf("DecodeLogEntry: %v", err)
	}
	return e
}

// auditEntry builds an Admin Activity audit log entry JSON with the given
// AuditLog protoPayload (its @type is added).
func auditEntry(protoPayload string) []byte {
	return logEntry("projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity", protoPayload)
}

// dataAccessEntry builds a Data Access audit log entry JSON: reads
// (ADMIN_READ, DATA_READ) and DATA_WRITE calls are written there.
func dataAccessEntry(protoPayload string) []byte {
	return logEntry("projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Fdata_access", protoPayload)
}

// logEntry builds an entry of logName whose protoPayload is an AuditLog.
func logEntry(logName, protoPayload string) []byte {
	p := strings.Replace(protoPayload, "{", `{"@type":"type.googleapis.com/google.cloud.audit.AuditLog",`, 1)
	p = strings.Replace(p, `",}`, `"}`, 1)
	return []byte(`{"insertId":"x1","logName":"` + logName + `","protoPayload":` + p + `}`)
}

// ruleCase is one entry and the default rules it must match.
type ruleCase struct {
	name    string
	entry   []byte
	sandbox Sandbox
	want    []string
}

func TestDefaultRules(t *testing.T) {
	eng := defaultEngine(t)
	for _, tt := range ruleCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			matches, err := eng.Evaluate(context.Background(), decode(t, tt.entry), tt.sandbox)
			if err != nil {
				t.Errorf("Evaluate diagnostics: %v", err)
			}
			if got := ruleNames(matches); !slices.Equal(got, tt.want) {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
			for _, m := range matches {
				if m.Playbook == "" || m.Severity == "" {
					t.Errorf("match %+v lacks playbook or severity", m)
				}
			}
		})
	}
}

// ruleCases are entries, real-shaped after the public samples, and what
// the default rules decide about each.
func ruleCases(t testing.TB) []ruleCase {
	return []ruleCase{
		{"sample setIamPolicy by sandbox SA", sample(t, "logentry-setiampolicy-by-sandbox-sa.json"), testSandbox,
			[]string{RuleSandboxSAPrivilegedCall, RuleSandboxSADenied, RuleSandboxSAWrite}},
		{"sample secret access by unknown principal", sample(t, "logentry-secret-access-unknown-principal.json"), testSandbox,
			[]string{RuleForeignSecretAccess}},
		{"sample benign instance start", sample(t, "logentry-benign-instance-start.json"), testSandbox, nil},

		{"sandbox SA creates a key (granted)", auditEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"google.iam.admin.v1.CreateServiceAccountKey","resourceName":"projects/-/serviceAccounts/x"}`), testSandbox,
			[]string{RuleSandboxSAPrivilegedCall, RuleSandboxSAWrite}},
		{"sandbox SA in mixed case, lower-case method", auditEntry(`{"authenticationInfo":{"principalEmail":"CC-Sandbox@coopguard-demo.iam.gserviceaccount.com"},"methodName":"storage.setIamPermissions"}`), testSandbox,
			[]string{RuleSandboxSAWrite}},
		{"sandbox SA v1 setIamPolicy on a bucket", auditEntry(`{"authenticationInfo":{"principalEmail":"CC-Sandbox@coopguard-demo.iam.gserviceaccount.com"},"methodName":"storage.setIamPolicy"}`), testSandbox,
			[]string{RuleSandboxSAPrivilegedCall, RuleSandboxSAWrite}},
		{"sandbox SA impersonates", dataAccessEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"GenerateAccessToken"}`), testSandbox,
			[]string{RuleSandboxSAPrivilegedCall}},
		{"operator sets IAM policy", auditEntry(`{"authenticationInfo":{"principalEmail":"operator@example.com"},"methodName":"SetIamPolicy","status":{"code":7}}`), testSandbox, nil},
		{"sandbox SA denied on an ordinary call", dataAccessEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"v1.compute.instances.list","status":{"code":7,"message":"PERMISSION_DENIED"}}`), testSandbox,
			[]string{RuleSandboxSADenied}},
		{"sandbox SA ordinary call succeeds", dataAccessEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"storage.objects.get","status":{}}`), testSandbox, nil},
		{"sandbox SA other error code", dataAccessEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"storage.objects.get","status":{"code":5}}`), testSandbox, nil},
		{"sandbox reads its own key", dataAccessEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key/versions/latest"}`), testSandbox, nil},
		{"unidentified caller reads the key", auditEntry(`{"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key/versions/3"}`), testSandbox,
			[]string{RuleForeignSecretAccess}},
		{"someone gets version metadata", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"google.cloud.secretmanager.v1.SecretManagerService.GetSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key/versions/1"}`), testSandbox, nil},
		{"someone reads an unmanaged secret", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key-old/versions/1"}`), testSandbox, nil},
		{"someone lists secrets", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"google.cloud.secretmanager.v1.SecretManagerService.ListSecrets","resourceName":"projects/123"}`), testSandbox, nil},
		{"coopguard's responder reads version metadata during a restore", auditEntry(`{"authenticationInfo":{"principalEmail":"coopguard-responder@coopguard-demo.iam.gserviceaccount.com"},"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key/versions/1"}`), testSandbox, nil},
		{"the sandbox reads the canary", dataAccessEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/claude-sandbox-backup-key/versions/1"}`), testSandbox,
			[]string{RuleCanaryAccess}},
		{"firewall insert on the sandbox network", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"v1.compute.firewalls.insert","resourceName":"projects/coopguard-demo/global/firewalls/allow-all","request":{"network":"https://www.googleapis.com/compute/v1/projects/coopguard-demo/global/networks/coopguard-net"}}`), testSandbox,
			[]string{RuleDefenceChanged}},
		{"the sandbox deletes deny-ingress (denied)", auditEntry(`{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"v1.compute.firewalls.delete","resourceName":"projects/coopguard-demo/global/firewalls/coopguard-claude-sandbox-deny-ingress","status":{"code":7}}`), testSandbox,
			[]string{RuleSandboxSADenied, RuleDefenceTampering, RuleSandboxSAWrite}},
		{"an operator disables the sink", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"google.logging.v2.ConfigServiceV2.UpdateSink","resourceName":"projects/coopguard-demo/sinks/coopguard-claude-sandbox-sink"}`), testSandbox,
			[]string{RuleDefenceChanged}},
		{"an operator removes the quarantine tag", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"v1.compute.instances.setTags","resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/claude-sandbox"}`), testSandbox,
			[]string{RuleDefenceChanged}},
		{"someone deletes coopguard's alert policy", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"google.monitoring.v3.AlertPolicyService.DeleteAlertPolicy","resourceName":"projects/coopguard-demo/alertPolicies/42"}`), withAlerting("projects/coopguard-demo/alertPolicies/42"),
			[]string{RuleDefenceChanged}},
		{"someone deletes another alert policy", auditEntry(`{"authenticationInfo":{"principalEmail":"x@example.com"},"methodName":"google.monitoring.v3.AlertPolicyService.DeleteAlertPolicy","resourceName":"projects/coopguard-demo/alertPolicies/43"}`), withAlerting("projects/coopguard-demo/alertPolicies/42"), nil},
		{"firewall insert elsewhere", auditEntry(`{"methodName":"v1.compute.firewalls.insert","resourceName":"projects/p/global/firewalls/allow-web","request":{"network":"projects/p/global/networks/default"}}`), testSandbox, nil},
		{"firewall list on the sandbox network", auditEntry(`{"methodName":"v1.compute.firewalls.list","resourceName":"projects/p/global/firewalls/coopguard-net-x"}`), testSandbox, nil},
		{"look-alike log name written by anyone", logEntry("projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity-copy", `{"authenticationInfo":{"principalEmail":"`+sandboxSA+`"},"methodName":"SetIamPolicy","status":{"code":7}}`), testSandbox, nil},
		{"audit log of another project", logEntry("projects/elsewhere/logs/cloudaudit.googleapis.com%2Factivity", `{"authenticationInfo":{"principalEmail":"`+sandboxSA+`"},"methodName":"SetIamPolicy","status":{"code":7}}`), testSandbox, nil},
		{"audit log name with a JSON payload", []byte(`{"insertId":"j","logName":"projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity","jsonPayload":{"authenticationInfo":{"principalEmail":"` + sandboxSA + `"},"methodName":"SetIamPolicy"}}`), testSandbox, nil},
		{"text payload only", []byte(`{"insertId":"t","logName":"projects/p/logs/syslog","textPayload":"SetIamPolicy"}`), testSandbox, nil},
		{"empty sandbox matches nothing on the SA sample", sample(t, "logentry-setiampolicy-by-sandbox-sa.json"), Sandbox{}, nil},
	}
}

func ruleNames(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Rule)
	}
	return out
}

func TestDefaultRulesPlaybooks(t *testing.T) {
	want := map[string][2]string{
		RuleSandboxSAOutside:        {"contain", "CRITICAL"},
		RuleSandboxSAImpersonated:   {"contain", "CRITICAL"},
		RuleSandboxKeyReadVMOff:     {"contain", "CRITICAL"},
		RuleSandboxSAPrivilegedCall: {"contain", "CRITICAL"},
		RuleSandboxSADenied:         {"contain", "ERROR"},
		RuleForeignSecretAccess:     {"contain", "CRITICAL"},
		RuleCanaryAccess:            {"contain", "CRITICAL"},
		RuleDefenceTampering:        {"contain", "CRITICAL"},
		RuleDefenceChanged:          {"notify", "WARNING"},
		// The catalogue's (rules_catalogue.go).
		RuleSandboxSAWrite:             {"contain", "CRITICAL"},
		RuleSandboxHandedPower:         {"contain", "CRITICAL"},
		RuleSandboxSurroundingsChanged: {"notify", "WARNING"},
		RuleForeignSecretAccessDenied:  {"notify", "WARNING"},
		// rules_catalogue2.go.
		RulePipelineTopicSubscribed: {"notify", "WARNING"},
		RuleSandboxExposed:          {"contain", "CRITICAL"},
		RuleOSPolicyByOther:         {"notify", "WARNING"},
		RuleSandboxTrafficMirrored:  {"notify", "WARNING"},
	}
	for _, r := range defaultEngine(t).Rules() {
		if got := [2]string{r.Playbook, r.Severity}; got != want[r.Name] {
			t.Errorf("rule %s: playbook/severity %v, want %v", r.Name, got, want[r.Name])
		}
	}
}

func TestEvaluationErrorIsNoMatch(t *testing.T) {
	eng, err := Compile([]Rule{
		{Name: "typed-wrong", Expression: `entry.protoPayload.methodName.startsWith("Set")`, Playbook: "notify", Severity: "INFO"},
		{Name: "no-has", Expression: `entry.jsonPayload.missing == 1`, Playbook: "notify", Severity: "INFO"},
		{Name: "ok", Expression: `entry.insertId == "x1"`, Playbook: "notify", Severity: "INFO"},
	})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	entry := decode(t, auditEntry(`{"methodName":42}`))
	matches, err := eng.Evaluate(context.Background(), entry, testSandbox)
	if got := ruleNames(matches); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("matches = %v, want [ok]", got)
	}
	for _, name := range []string{"typed-wrong", "no-has"} {
		if !strings.Contains(fmt.Sprint(err), fmt.Sprintf("rule %q", name)) {
			t.Errorf("diagnostics %v do not name %s", err, name)
		}
	}
	var re *RuleError
	if !errors.As(err, &re) {
		t.Errorf("diagnostics %v are not *RuleError", err)
	}
	if got := ruleNames(eng.Match(entry, testSandbox)); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("Match = %v, want [ok]", got)
	}
}

func TestCompileErrors(t *testing.T) {
	ok := Rule{Name: "ok", Expression: "true", Playbook: "notify", Severity: "INFO"}
	with := func(f func(r *Rule)) Rule { r := ok; f(&r); return r }
	tests := []struct {
		name  string
		rules []Rule
		want  []string // substrings of the error
	}{
		{"syntax", []Rule{with(func(r *Rule) { r.Name = "bad-syntax"; r.Expression = "entry.methodName ==" })}, []string{`rule "bad-syntax"`, "Syntax error"}},
		{"undeclared", []Rule{with(func(r *Rule) { r.Name = "undeclared"; r.Expression = "request.method == 'x'" })}, []string{`rule "undeclared"`, "undeclared reference"}},
		{"non-boolean", []Rule{with(func(r *Rule) { r.Name = "string-result"; r.Expression = "entry.logName" })}, []string{`rule "string-result"`, "must be boolean"}},
		{"non-boolean int", []Rule{with(func(r *Rule) { r.Name = "int-result"; r.Expression = "1 + 2" })}, []string{"must be boolean, is int"}},
		{"empty name", []Rule{with(func(r *Rule) { r.Name = "" })}, []string{`rule "#0"`, "name is empty"}},
		{"duplicate", []Rule{ok, ok}, []string{`rule "ok"`, "duplicate name"}},
		{"no playbook", []Rule{with(func(r *Rule) { r.Playbook = "" })}, []string{"playbook is empty"}},
		{"bad severity", []Rule{with(func(r *Rule) { r.Severity = "HIGH" })}, []string{`severity "HIGH"`}},
		{"nested loops over entry data", []Rule{with(func(r *Rule) {
			r.Name = "quadratic"
			r.Expression = `has(entry.protoPayload.authorizationInfo) && entry.protoPayload.authorizationInfo.exists(a, entry.protoPayload.authorizationInfo.exists(b, a != b))`
		})}, []string{`rule "quadratic"`, "estimated worst-case cost"}},
		{"every bad rule reported", []Rule{
			with(func(r *Rule) { r.Name = "first"; r.Expression = "(" }),
			ok,
			with(func(r *Rule) { r.Name = "second"; r.Expression = "'s'" }),
		}, []string{`rule "first"`, `rule "second"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, err := Compile(tt.rules)
			if err == nil {
				t.Fatalf("Compile succeeded with %d rules, want error", len(eng.Rules()))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Errorf("error %v is not a *RuleError", err)
			}
		})
	}
}

func TestCompileNormalisesSeverity(t *testing.T) {
	eng, err := Compile([]Rule{{Name: "r", Expression: "true", Playbook: "notify", Severity: "warning"}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if got := eng.Rules()[0].Severity; got != "WARNING" {
		t.Errorf("severity = %q, want WARNING", got)
	}
}

// TestRuntimeCostLimit: a rule cheap by estimate (sandbox.secrets is assumed
// small) but cubic in a large secrets list must stop with an error, not run
// for minutes, and must not keep the next rule from running.
func TestRuntimeCostLimit(t *testing.T) {
	eng, err := Compile([]Rule{{
		Name:       "cubic",
		Expression: `sandbox.secrets.all(a, sandbox.secrets.all(b, sandbox.secrets.all(c, size(sandbox.secrets) > 0)))`,
		Playbook:   "notify",
		Severity:   "INFO",
	}, {
		Name: "after", Expression: `entry.insertId != ""`, Playbook: "notify", Severity: "INFO",
	}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	sb := testSandbox
	sb.Secrets = make([]string, 2000) // 8e9 iterations if unbounded
	for i := range sb.Secrets {
		sb.Secrets[i] = fmt.Sprintf("s%d", i)
	}
	start := time.Now()
	matches, err := eng.Evaluate(context.Background(), decode(t, sample(t, "logentry-benign-instance-start.json")), sb)
	elapsed := time.Since(start)
	// The runaway rule is no match; the rule after it still runs.
	if got := ruleNames(matches); !slices.Equal(got, []string{"after"}) {
		t.Errorf("matches = %v, want [after]", got)
	}
	t.Logf("stopped after %v: %v", elapsed, err)
	// The cost limit normally stops it; on a slow machine (-race) the
	// deadline may come first. Either bound is fine, running on is not.
	if err == nil || !(strings.Contains(err.Error(), "cost limit") || errors.Is(err, context.DeadlineExceeded)) {
		t.Errorf("err = %v, want a cost limit or deadline error", err)
	}
	// Generous bound: the limit stops it within milliseconds; unbounded it
	// would take minutes.
	if elapsed > 5*time.Second {
		t.Errorf("evaluation took %v", elapsed)
	}
}

func TestEvaluateHonoursContext(t *testing.T) {
	eng, err := Compile([]Rule{{
		Name:       "cubic",
		Expression: `sandbox.secrets.all(a, sandbox.secrets.all(b, sandbox.secrets.all(c, size(sandbox.secrets) > 0)))`,
		Playbook:   "notify",
		Severity:   "INFO",
	}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	sb := testSandbox
	sb.Secrets = make([]string, 2000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = eng.Evaluate(ctx, decode(t, sample(t, "logentry-benign-instance-start.json")), sb)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestSinkFilter(t *testing.T) {
	tests := []struct {
		name    string
		sb      Sandbox
		want    []string
		notWant []string
	}{
		{"full sandbox", testSandbox, []string{
			`(logName="projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity" OR `,
			`AND NOT (protoPayload.authenticationInfo.principalEmail="coopguard-responder@coopguard-demo.iam.gserviceaccount.com")`,
			`protoPayload.authenticationInfo.principalEmail="` + sandboxSA + `"`,
			`protoPayload.status.code=7`,
			`setiampolicy`,
			`secrets/(anthropic-api-key)(/versions/[^/]+)?$"`,
			`NOT protoPayload.authenticationInfo.principalEmail=`,
			`protoPayload.request.network:"coopguard-net"`,
		}, nil},
		{"empty sandbox", Sandbox{}, []string{`deletealertpolicy`}, []string{"principalEmail", "secrets/", "request.network"}},
		{"quoting, regex escaping, lower case", Sandbox{ServiceAccount: `A"b@x`, Secrets: []string{"k.v"}}, []string{`principalEmail="a\"b@x"`, `(k\\.v)`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := SinkFilter(tt.sb)
			for _, w := range tt.want {
				if !strings.Contains(f, w) {
					t.Errorf("filter lacks %s\n%s", w, f)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(f, w) {
					t.Errorf("filter has %s\n%s", w, f)
				}
			}
			if strings.Count(f, "(")-strings.Count(f, `\(`) < 1 || unbalanced(f) {
				t.Errorf("unbalanced parentheses: %s", f)
			}
		})
	}
}

// unbalanced checks parentheses outside string literals.
func unbalanced(f string) bool {
	depth, inStr := 0, false
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && c == '(':
			depth++
		case !inStr && c == ')':
			depth--
		}
		if depth < 0 {
			return true
		}
	}
	return depth != 0 || inStr
}

// TestSinkFilterAdmitsMatches runs every rule case through the sink
// filter, evaluated by the emulated Logging's query language: each entry
// a default rule matches must pass the sink, and the filter must parse.
func TestSinkFilterAdmitsMatches(t *testing.T) {
	eng := defaultEngine(t)
	for _, tt := range ruleCases(t) {
		if tt.sandbox.Project == "" {
			continue
		}
		f, err := logging.ParseFilter(SinkFilter(tt.sandbox))
		if err != nil {
			t.Fatalf("the sink filter does not parse: %v", err)
		}
		var pb loggingpb.LogEntry
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(tt.entry, &pb); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		matched := len(eng.Match(decode(t, tt.entry), tt.sandbox)) > 0
		if matched && !f.MatchEntry(&pb) {
			t.Errorf("%s: a rule matches but the sink filter drops it", tt.name)
		}
	}
}

func TestEngineConcurrentUse(t *testing.T) {
	eng := defaultEngine(t)
	entry := decode(t, sample(t, "logentry-setiampolicy-by-sandbox-sa.json"))
	done := make(chan []Match)
	for range 8 {
		go func() { done <- eng.Match(entry, testSandbox) }()
	}
	for range 8 {
		if got := <-done; len(got) != 3 {
			t.Errorf("concurrent Match = %v", got)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, name := range []string{"logentry-setiampolicy-by-sandbox-sa.json", "logentry-secret-access-unknown-principal.json", "logentry-benign-instance-start.json"} {
		f.Add(sample(f, name))
	}
	f.Add(auditEntry(`{"methodName":"v1.compute.firewalls.insert","request":{"network":7},"status":{"code":7.5}}`))
	f.Add(auditEntry(`{"authenticationInfo":{"principalEmail":["x"]},"resourceName":{"a":null}}`))
	eng := defaultEngine(f)
	names := map[string]bool{}
	for _, r := range eng.Rules() {
		names[r.Name] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entry, err := events.DecodeLogEntry(data)
		if err != nil {
			return
		}
		matches, _ := eng.Evaluate(context.Background(), entry, testSandbox)
		last := -1
		for _, m := range matches {
			if !names[m.Rule] {
				t.Fatalf("unknown rule %q", m.Rule)
			}
			i := slices.IndexFunc(eng.Rules(), func(r Rule) bool { return r.Name == m.Rule })
			if i <= last {
				t.Fatalf("matches out of rule order: %v", matches)
			}
			last = i
		}
		if got := eng.Match(entry, testSandbox); !slices.Equal(got, matches) {
			t.Fatalf("Match = %v, Evaluate = %v", got, matches)
		}
	})
}

// BenchmarkDecodeAndMatch measures the per-entry work of HandleLogEntry:
// decode plus all default rules. The baseline sub-benchmark (a bare
// json.Unmarshal of the same entry into a map) calibrates for the machine.
func BenchmarkDecodeAndMatch(b *testing.B) {
	eng := defaultEngine(b)
	b.Run("baseline-json-unmarshal", func(b *testing.B) {
		data := sample(b, "logentry-secret-access-unknown-principal.json")
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, name := range []string{"logentry-setiampolicy-by-sandbox-sa.json", "logentry-secret-access-unknown-principal.json", "logentry-benign-instance-start.json"} {
		data := sample(b, name)
		b.Run(strings.TrimSuffix(strings.TrimPrefix(name, "logentry-"), ".json"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e, err := events.DecodeLogEntry(data)
				if err != nil {
					b.Fatal(err)
				}
				eng.Match(e, testSandbox)
			}

		})
	}
}
