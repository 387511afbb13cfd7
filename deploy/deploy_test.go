package deploy_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
)

const (
	testProject = "coopguard-test-1"
	testRegion  = "europe-west1"
)

// repoRoot is the repository root (tests run in deploy/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestMain removes the work directories of the shared dry runs.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedWork != "" {
		os.RemoveAll(sharedWork)
	}
	os.Exit(code)
}

// dryRuns holds the dry runs tests share, by script and settings: a run
// forks bash hundreds of times, and many tests read the same listing.
var (
	dryRuns    sync.Map // script and settings → *sharedDryRun
	sharedMu   sync.Mutex
	sharedWork string // parent of the shared runs' work directories
)

type sharedDryRun struct {
	once sync.Once
	cmds []deploy.Command
	work string
	err  error
}

// dryRun is the listing of a script run with DRY_RUN=1 for the test
// project with env, and the directory holding its staged source and env
// file. It runs once per process for each script and env; callers only
// read what it returns (freshDryRun gives a run of one's own).
func dryRun(t *testing.T, script string, env ...string) ([]deploy.Command, string) {
	t.Helper()
	v, _ := dryRuns.LoadOrStore(script+"\x00"+strings.Join(env, "\x00"), &sharedDryRun{})
	r := v.(*sharedDryRun)
	r.once.Do(func() {
		sharedMu.Lock()
		if sharedWork == "" {
			sharedWork, r.err = os.MkdirTemp("", "coopguard-deploy-test-")
		}
		parent := sharedWork
		sharedMu.Unlock()
		if r.err != nil {
			return
		}
		if r.work, r.err = os.MkdirTemp(parent, "run-"); r.err == nil {
			r.cmds, r.err = runDry(script, r.work, env)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.cmds, r.work
}

// freshDryRun is dryRun in a work directory of the test's own, which the
// test may change.
func freshDryRun(t *testing.T, script string, env ...string) ([]deploy.Command, string) {
	t.Helper()
	work := t.TempDir()
	cmds, err := runDry(script, work, env)
	if err != nil {
		t.Fatal(err)
	}
	return cmds, work
}

// runDry runs a script with DRY_RUN=1 for the test project, keeping its
// staged source and env file in work.
func runDry(script, work string, env []string) ([]deploy.Command, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	env = append([]string{"PROJECT=" + testProject, "REGION=" + testRegion, "DEPLOY_WORKDIR=" + work}, env...)
	cmds, _, err := deploy.DryRun(ctx, filepath.Join(root, "deploy", script), env...)
	if err != nil {
		return nil, err
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("DRY_RUN=1 %s printed no commands", script)
	}
	return cmds, nil
}

// libList prints a bash array defined in deploy/lib.sh.
func libList(t *testing.T, name string) []string {
	t.Helper()
	out, err := exec.Command("bash", "-c", `source "$1" && printf '%s\n' "${`+name+`[@]}"`, "bash",
		filepath.Join(repoRoot(t), "deploy", "lib.sh")).Output()
	if err != nil {
		t.Fatalf("read %s from deploy/lib.sh: %v", name, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func find(cmds []deploy.Command, words ...string) []deploy.Command {
	var out []deploy.Command
	for _, c := range cmds {
		if c.Is(words...) {
			out = append(out, c)
		}
	}
	return out
}

func flag(t *testing.T, c deploy.Command, name string) string {
	t.Helper()
	v, ok := c.Flag(name)
	if !ok {
		t.Errorf("%s: no --%s", c, name)
	}
	return v
}

func TestDeployCreatesTopicsWithBothBranches(t *testing.T) {
	t.Parallel()
	cmds, _ := dryRun(t, "deploy.sh")
	var topics []string
	for _, key := range config.TopicKeys() {
		topics = append(topics, config.Defaults().Coopguard.Topics.Topic(key))
	}
	for _, topic := range append(topics, config.DeadLetterTopic) {
		for _, verb := range []string{"describe", "create", "update"} {
			if len(find(cmds, "gcloud", "pubsub", "topics", verb, topic)) != 1 {
				t.Errorf("dry run has no single `gcloud pubsub topics %s %s` (describe-then-create/update prints both branches)", verb, topic)
			}
		}
	}
	sub := find(cmds, "gcloud", "pubsub", "subscriptions", "create", "coopguard-dead-letter-sub")
	if len(sub) != 1 || flag(t, sub[0], "topic") != "coopguard-dead-letter" {
		t.Errorf("no dead-letter subscription on coopguard-dead-letter: %v", sub)
	}
	if len(find(cmds, "gcloud", "pubsub", "subscriptions", "update", "coopguard-dead-letter-sub")) != 1 {
		t.Error("no update branch for the dead-letter subscription")
	}
}

func TestDeployFunctions(t *testing.T) {
	t.Parallel()
	cmds, work := dryRun(t, "deploy.sh")
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := ""
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			goLine = v
		}
	}
	parts := strings.SplitN(goLine, ".", 3)
	wantRuntime := "go" + parts[0] + parts[1] // go 1.26.8 → go126

	sa := func(id string) string { return id + "@" + testProject + ".iam.gserviceaccount.com" }
	want := map[string]struct{ topic, sa string }{
		"Provision":      {"", sa("coopguard-provisioner")},
		"Status":         {"", sa("coopguard-reader")},
		"Resolve":        {"", sa("coopguard-restorer")},
		"Posture":        {"", sa("coopguard-reader")},
		"HandleAlert":    {"coopguard-alerts", sa("coopguard-responder")},
		"HandleLogEntry": {"coopguard-logs", sa("coopguard-responder")},
		"RotateKeys":     {"coopguard-rotation", sa("coopguard-rotator")},
		// The containments' follow-up runs with the responder's roles.
		"FinishIncidents": {"coopguard-followup", sa("coopguard-responder")},
		// The cost watch contains and quarantines as its own account.
		"HandleBudget": {"coopguard-budgets", sa("coopguard-costs")},
		"WatchCosts":   {"coopguard-costwatch", sa("coopguard-costs")},
		// The weekly review runs as its own reader.
		"Review": {"coopguard-review", sa("coopguard-reviewer")},
		// The review on demand, as the same account.
		"ReviewReport": {"", sa("coopguard-reviewer")},
	}
	deploys := find(cmds, "gcloud", "functions", "deploy")
	if len(deploys) != len(want) {
		t.Fatalf("%d functions deployed, want %d: %v", len(deploys), len(want), deploys)
	}
	for _, c := range deploys {
		entry := flag(t, c, "entry-point")
		w, ok := want[entry]
		if !ok {
			t.Errorf("%s: unexpected entry point %q", c, entry)
			continue
		}
		delete(want, entry)
		if !slices.Contains(c.Args, "--gen2") {
			t.Errorf("%s: not gen2", entry)
		}
		if got := flag(t, c, "runtime"); got != wantRuntime {
			t.Errorf("%s: runtime %s, want %s (go.mod says go %s)", entry, got, wantRuntime, goLine)
		}
		if got := flag(t, c, "source"); got != filepath.Join(work, "source") {
			t.Errorf("%s: source %s, want the staged tree %s", entry, got, filepath.Join(work, "source"))
		}
		if got := flag(t, c, "service-account"); got != w.sa {
			t.Errorf("%s: runs as %s, want %s", entry, got, w.sa)
		}
		if !slices.Contains(c.Args, "--no-allow-unauthenticated") {
			t.Errorf("%s: allows unauthenticated calls", entry)
		}
		if flag(t, c, "max-instances") == "" {
			t.Errorf("%s: max instances unbounded", entry)
		}
		if w.topic == "" {
			if !slices.Contains(c.Args, "--trigger-http") {
				t.Errorf("%s: not an HTTP function", entry)
			}
			continue
		}
		if got := flag(t, c, "trigger-topic"); got != w.topic {
			t.Errorf("%s: trigger topic %s, want %s", entry, got, w.topic)
		}
		if !slices.Contains(c.Args, "--retry") {
			t.Errorf("%s: retry is off", entry)
		}
		if got := flag(t, c, "ingress-settings"); got != "internal-only" {
			t.Errorf("%s: ingress %s, want internal-only", entry, got)
		}
	}
	for entry := range want {
		t.Errorf("entry point %s is not deployed", entry)
	}
	if n := len(find(cmds, "gcloud", "pubsub", "subscriptions", "update")); n < 5 {
		t.Errorf("dead-letter policy set on %d subscriptions, want the 4 trigger subscriptions and the dead-letter one", n)
	}
}

// TestDeploySchedulerJobs: each scheduled function of config.Jobs gets its
// Cloud Scheduler job, on its schedule, publishing the body and the
// coopguard-job attribute its function takes to the topic that triggers it.
func TestDeploySchedulerJobs(t *testing.T) {
	t.Parallel()
	cmds, _ := dryRun(t, "deploy.sh")
	type want struct{ job, schedule, topic, attr string }
	var wants []want
	for _, f := range config.Functions() {
		if f.Schedule != nil {
			wants = append(wants, want{f.Service, f.Schedule.Cron, config.Defaults().Coopguard.Topics.Topic(f.Topic), "coopguard-job=" + f.Schedule.Attr})
		}
	}
	if len(wants) < 2 {
		t.Fatalf("config.Jobs schedules %d functions, want RotateKeys and FinishIncidents at least", len(wants))
	}
	if n := len(find(cmds, "gcloud", "scheduler", "jobs", "create")); n != len(wants) {
		t.Errorf("deploy creates %d scheduler jobs, config.Jobs schedules %d functions", n, len(wants))
	}
	for _, tc := range wants {
		for _, verb := range []string{"create", "update"} {
			jobs := find(cmds, "gcloud", "scheduler", "jobs", verb, "pubsub", tc.job)
			if len(jobs) != 1 {
				t.Errorf("no `gcloud scheduler jobs %s pubsub %s`", verb, tc.job)
				continue
			}
			j := jobs[0]
			if got := flag(t, j, "schedule"); got != tc.schedule {
				t.Errorf("%s %s: schedule %q, want %q", verb, tc.job, got, tc.schedule)
			}
			if got := flag(t, j, "time-zone"); got != "Etc/UTC" {
				t.Errorf("%s %s: time zone %q, want Etc/UTC", verb, tc.job, got)
			}
			if got := flag(t, j, "topic"); got != "projects/"+testProject+"/topics/"+tc.topic {
				t.Errorf("%s %s: topic %s, want %s", verb, tc.job, got, tc.topic)
			}
			if got := flag(t, j, "message-body"); got != `{"reason":"scheduled"}` {
				t.Errorf("%s %s: body %s, want the shape of testdata/samples/scheduler-rotation-message.json", verb, tc.job, got)
			}
			attrFlag := map[string]string{"create": "attributes", "update": "update-attributes"}[verb]
			if got := flag(t, j, attrFlag); got != tc.attr {
				t.Errorf("%s %s: --%s=%s, want %s (the function acknowledges other jobs' messages and does nothing)", verb, tc.job, attrFlag, got, tc.attr)
			}
		}
	}
}

func TestDeployServiceAgentsPublishToTheirTopics(t *testing.T) {
	t.Parallel()
	cmds, _ := dryRun(t, "deploy.sh")
	want := map[string]string{
		"coopguard-alerts":      "gcp-sa-monitoring-notification",
		"coopguard-logs":        "gcp-sa-logging",
		"coopguard-rotation":    "gcp-sa-secretmanager",
		"coopguard-dead-letter": "gcp-sa-pubsub",
	}
	for topic, agent := range want {
		ok := false
		for _, c := range find(cmds, "gcloud", "pubsub", "topics", "add-iam-policy-binding", topic) {
			m, _ := c.Flag("member")
			r, _ := c.Flag("role")
			ok = ok || (strings.Contains(m, "@"+agent+".iam.gserviceaccount.com") && r == "roles/pubsub.publisher")
		}
		if !ok {
			t.Errorf("%s's service agent may not publish to %s", agent, topic)
		}
	}
}

// Every configuration variable reaches the functions, and deploy knows
// exactly the variables shared/config reads.
func TestDeployForwardsEveryConfigVariable(t *testing.T) {
	t.Parallel()
	got := libList(t, "CONFIG_ENV")
	want := config.EnvNames()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("CONFIG_ENV in deploy/lib.sh = %v\nconfig.EnvNames()        = %v\nmake CONFIG_ENV list exactly the env tags of shared/config", got, want)
	}
	var env []string
	for _, n := range want {
		env = append(env, n+`=value of `+n+` with "quotes", \backslash, commas`)
	}
	_, work := dryRun(t, "deploy.sh", env...)
	b, err := os.ReadFile(filepath.Join(work, "env.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range want {
		if n == "COOPGUARD_PROJECT" { // deploy's PROJECT wins
			continue
		}
		line := n + `: "value of ` + n + ` with \"quotes\", \\backslash, commas"`
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("env.yaml lacks %s", line)
		}
	}
}

func TestDeployKeySourceGrants(t *testing.T) {
	t.Parallel()
	without, _ := dryRun(t, "deploy.sh")
	for _, c := range without {
		if strings.Contains(c.Line, "coopguardRotatorKeySource") || c.Is("gcloud", "secrets", "add-iam-policy-binding") {
			t.Errorf("no key source configured, yet: %s", c)
		}
	}
	with, _ := dryRun(t, "deploy.sh", "COOPGUARD_ROTATION_KEY_SOURCE_URL=https://keys.example/mint",
		"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET=mint-token", "COOPGUARD_SECRETS=anthropic-api-key,other-key")
	rotator := "serviceAccount:coopguard-rotator@" + testProject + ".iam.gserviceaccount.com"
	var bound int
	for _, c := range find(with, "gcloud", "projects", "add-iam-policy-binding") {
		if r, _ := c.Flag("role"); strings.HasSuffix(r, "/coopguardRotatorKeySource") {
			bound++
			if m := flag(t, c, "member"); m != rotator {
				t.Errorf("the key-source role is bound to %s, want the rotator %s", m, rotator)
			}
			// AddSecretVersion is checked on its parent, the secret
			// (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/addVersion):
			// a condition on the versions alone would never allow it.
			cond := flag(t, c, "condition")
			for _, s := range []string{"anthropic-api-key", "other-key"} {
				if !strings.Contains(cond, `resource.name == "projects/123456789012/secrets/`+s+`"`) {
					t.Errorf("key-source role condition %q does not name secret %s, on which adding a version is checked", cond, s)
				}
			}
			if strings.Contains(cond, "anthropic-admin") || strings.Count(cond, "resource.name ==") != 2 {
				t.Errorf("key-source role condition %q names more than the two managed secrets", cond)
			}
		}
	}
	if bound != 1 {
		t.Errorf("key source configured: the key-source role is bound %d times, want once", bound)
	}
	// Each job's Secret Manager role holds on the managed secrets and
	// their versions only.
	for _, j := range deploy.Jobs {
		id, ok := deploy.RoleIDs[deploy.SecretsRole(j.Role)]
		if !ok {
			continue
		}
		var secrets int
		for _, c := range find(with, "gcloud", "projects", "add-iam-policy-binding") {
			if r, _ := c.Flag("role"); strings.HasSuffix(r, "/"+id) {
				secrets++
				cond := flag(t, c, "condition")
				for _, s := range []string{"anthropic-api-key", "other-key"} {
					if !strings.Contains(cond, `resource.name == "projects/123456789012/secrets/`+s+`"`) || !strings.Contains(cond, "/secrets/"+s+"/") {
						t.Errorf("%s condition %q does not cover secret %s and its versions", id, cond, s)
					}
				}
				if !strings.Contains(cond, "title=coopguard-managed-secrets-"+j.Role+",") {
					t.Errorf("%s condition %q is not titled coopguard-managed-secrets-%s", id, cond, j.Role)
				}
			}
		}
		if secrets != 1 {
			t.Errorf("%s is bound %d times, want once, under its condition", id, secrets)
		}
	}
	grants := find(with, "gcloud", "secrets", "add-iam-policy-binding", "mint-token")
	if len(grants) != 1 || flag(t, grants[0], "member") != rotator {
		t.Errorf("the key source's credential secret mint-token: want one accessor grant, to the rotator; got %v", grants)
	}
}

// TestDeploySandboxRoles: the responder's and restorer's sandbox roles are
// bound under coopguard-sandboxes naming the configured sandbox's instance
// and disk, as config.SandboxCondition writes it (both build it from
// shared/config/iamconditions/sandboxes), keeping the sandboxes the current
// condition names (in a dry run, other-sandbox), and the narrower binding
// it replaces is removed.
func TestDeploySandboxRoles(t *testing.T) {
	t.Parallel()
	const zone = "europe-west1-b"
	cmds, _ := dryRun(t, "deploy.sh", "COOPGUARD_VM_NAME=agent-box", "COOPGUARD_ZONE="+zone)
	wantExpr := config.SandboxCondition(testProject, zone, []string{"other-sandbox", "agent-box"})
	oldExpr := config.SandboxCondition(testProject, zone, []string{"other-sandbox"})
	for account, id := range config.SandboxRoles {
		member := "serviceAccount:" + config.AccountEmail(account, testProject)
		role := "projects/" + testProject + "/roles/" + id
		var added, removed int
		for _, c := range find(cmds, "gcloud", "projects", "add-iam-policy-binding", testProject) {
			if r, _ := c.Flag("role"); r != role {
				continue
			}
			added++
			if m := flag(t, c, "member"); m != member {
				t.Errorf("%s is bound to %s, want %s", id, m, member)
			}
			want := "expression=" + wantExpr + ",title=" + config.SandboxConditionTitle + ",description=" + config.SandboxConditionDescription
			got := flag(t, c, "condition")
			if got != want {
				t.Errorf("%s condition:\n got %s\nwant %s", id, got, want)
			}
			for _, name := range []string{"agent-box", "other-sandbox"} {
				if !config.SandboxNamed(got, testProject, zone, name) {
					t.Errorf("Provision does not find sandbox %s named in deploy's condition on %s", name, id)
				}
			}
		}
		for _, c := range find(cmds, "gcloud", "projects", "remove-iam-policy-binding", testProject) {
			if r, _ := c.Flag("role"); r == role && flag(t, c, "member") == member {
				removed++
				if cond := flag(t, c, "condition"); !strings.HasPrefix(cond, "expression="+oldExpr+",title="+config.SandboxConditionTitle+",") {
					t.Errorf("%s: removes the binding under %q, want the narrower one naming other-sandbox only", id, cond)
				}
			}
		}
		if added != 1 || removed != 1 {
			t.Errorf("%s: bound %d times and the narrower binding removed %d times, want once each", id, added, removed)
		}
	}
	if len(config.SandboxRoles) == 0 {
		t.Fatal("config.SandboxRoles is empty: nothing to check")
	}
}

func TestDeployRevokeCredentialGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   []string
		grant bool
	}{
		{"revocation off", nil, false},
		{"anthropic", []string{"COOPGUARD_REVOKE_PROVIDER=anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET=anthropic-admin"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, _ := dryRun(t, "deploy.sh", tt.env...)
			grants := find(cmds, "gcloud", "secrets", "add-iam-policy-binding", "anthropic-admin")
			// The responder revokes with it; the cost watch reads the
			// usage report with it.
			if (len(grants) == 2) != tt.grant || len(grants) > 2 {
				t.Fatalf("%d grants on the admin key's secret, want grant=%v (to the responder and the cost watch)", len(grants), tt.grant)
			}
			for _, c := range grants {
				if m := flag(t, c, "member"); m != "serviceAccount:coopguard-responder@"+testProject+".iam.gserviceaccount.com" && m != "serviceAccount:coopguard-costs@"+testProject+".iam.gserviceaccount.com" {
					t.Errorf("the admin key's secret is granted to %s, want the responder and the cost watch only", m)
				}
				if r := flag(t, c, "role"); r != "roles/secretmanager.secretAccessor" {
					t.Errorf("role %s", r)
				}
			}
		})
	}
}

func TestDeployRefusesMissingSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"REGION=us-central1"}, "PROJECT is not set: run make deploy PROJECT="},
		{[]string{"PROJECT=" + testProject}, "REGION is not set"},
		{[]string{"PROJECT=Bad_Project", "REGION=us-central1"}, "is not a GCP project id"},
		{[]string{"PROJECT=" + testProject, "REGION=us-central1", "COOPGUARD_SERVICE_ACCOUNT=1-compute@developer.gserviceaccount.com"}, "default Compute service account"},
	} {
		for _, script := range []string{"deploy.sh", "undeploy.sh"} {
			cmd := exec.Command("bash", filepath.Join(repoRoot(t), "deploy", script))
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DRY_RUN=1", "DEPLOY_WORKDIR=" + t.TempDir()}, tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("%s with %v: err %v, output %q; want a failure saying %q", script, tc.env, err, out, tc.want)
			}
		}
	}
}

func TestUndeployRemovesWhatDeployCreates(t *testing.T) {
	t.Parallel()
	env := []string{"COOPGUARD_ROTATION_KEY_SOURCE_URL=https://keys.example/mint",
		"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET=mint-token",
		"COOPGUARD_REVOKE_PROVIDER=anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET=admin-key",
		"COOPGUARD_FLEET_FOLDER=folders/424242424242", "COOPGUARD_FLEET_BILLING_ACCOUNT=billingAccounts/0A1B2C-3D4E5F-6A7B8C"}
	deployed, _ := dryRun(t, "deploy.sh", env...)
	removed, _ := dryRun(t, "undeploy.sh", env...)
	has := func(words ...string) bool { return len(find(removed, words...)) > 0 }
	for _, c := range find(deployed, "gcloud", "pubsub", "topics", "create") {
		if !has("gcloud", "pubsub", "topics", "delete", c.Args[4]) {
			t.Errorf("undeploy keeps topic %s", c.Args[4])
		}
	}
	for _, c := range find(deployed, "gcloud", "functions", "deploy") {
		if !has("gcloud", "functions", "delete", c.Args[3]) {
			t.Errorf("undeploy keeps function %s", c.Args[3])
		}
	}
	for _, c := range find(deployed, "gcloud", "iam", "roles", "create") {
		if !has("gcloud", "iam", "roles", "delete", c.Args[4]) {
			t.Errorf("undeploy keeps role %s", c.Args[4])
		}
	}
	for _, c := range find(deployed, "gcloud", "iam", "service-accounts", "create") {
		id := c.Args[4]
		if id == "cc-sandbox" {
			continue // the sandbox VM's account: the sandbox is not undeploy's
		}
		if !has("gcloud", "iam", "service-accounts", "delete", id+"@"+testProject+".iam.gserviceaccount.com") {
			t.Errorf("undeploy keeps service account %s", id)
		}
	}
	accounts := []string{deploy.AccountInvoker}
	for _, j := range deploy.Jobs {
		accounts = append(accounts, j.Account)
	}
	for _, id := range accounts {
		if !has("gcloud", "iam", "service-accounts", "delete", id+"@"+testProject+".iam.gserviceaccount.com") {
			t.Errorf("undeploy keeps service account %s", id)
		}
	}
	// Every binding of a coopguard account, on the project, the sandbox's
	// account, a credential secret, the fleet's folder or its billing
	// account.
	scopes := [][]string{{"projects"}, {"iam", "service-accounts"}, {"secrets"}, {"resource-manager", "folders"}, {"billing", "accounts"}}
	if len(find(deployed, "gcloud", "resource-manager", "folders", "add-iam-policy-binding")) == 0 {
		t.Fatal("deploy with [coopguard.fleet] set grants nothing on the folder: this test no longer covers the fleet's grants")
	}
	for _, scope := range scopes {
		add := append(append([]string{"gcloud"}, scope...), "add-iam-policy-binding")
		rm := append(append([]string{"gcloud"}, scope...), "remove-iam-policy-binding")
		for _, c := range find(deployed, add...) {
			member, role := flag(t, c, "member"), flag(t, c, "role")
			var gone bool
			for _, r := range find(removed, append(rm, c.Args[len(add)])...) {
				if m, _ := r.Flag("member"); m == member {
					if rr, _ := r.Flag("role"); rr == role {
						gone = true
					}
				}
			}
			if !gone {
				t.Errorf("undeploy keeps the binding of %s to %s on %s", role, member, c.Args[len(add)])
			}
		}
	}
	for _, c := range find(deployed, "gcloud", "scheduler", "jobs", "create", "pubsub") {
		if !has("gcloud", "scheduler", "jobs", "delete", c.Args[5]) {
			t.Errorf("undeploy keeps the scheduler job %s", c.Args[5])
		}
	}
	for _, job := range []string{"coopguard-rotate-keys", "coopguard-finish-incidents", "coopguard-watch-costs", "coopguard-review"} {
		if !has("gcloud", "scheduler", "jobs", "delete", job) {
			t.Errorf("undeploy keeps the scheduler job %s", job)
		}
	}
	for _, c := range removed {
		if c.Is("gcloud", "compute") || c.Is("gcloud", "secrets", "delete") || c.Is("gcloud", "logging", "sinks", "delete") {
			t.Errorf("undeploy touches the sandbox: %s", c)
		}
	}
}

// TestDeployRetiresResponderKeySource: a deployment from before the split
// by job bound coopguardResponderKeySource and the key source's credential
// to the responder; deploy and undeploy take both back and delete the role.
func TestDeployRetiresResponderKeySource(t *testing.T) {
	t.Parallel()
	responder := "serviceAccount:coopguard-responder@" + testProject + ".iam.gserviceaccount.com"
	for _, script := range []string{"deploy.sh", "undeploy.sh"} {
		cmds, _ := dryRun(t, script, "COOPGUARD_ROTATION_KEY_SOURCE_URL=https://keys.example/mint",
			"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET=mint-token")
		var role, cred bool
		for _, c := range find(cmds, "gcloud", "projects", "remove-iam-policy-binding", testProject) {
			if r, _ := c.Flag("role"); r == "projects/"+testProject+"/roles/coopguardResponderKeySource" && flag(t, c, "member") == responder {
				role = true
			}
		}
		for _, c := range find(cmds, "gcloud", "secrets", "remove-iam-policy-binding", "mint-token") {
			if flag(t, c, "member") == responder {
				cred = true
			}
		}
		if !role || !cred {
			t.Errorf("%s: the responder keeps its retired key-source role (taken back: %v) or the key source's credential (taken back: %v)", script, role, cred)
		}
		if len(find(cmds, "gcloud", "iam", "roles", "delete", "coopguardResponderKeySource")) != 1 {
			t.Errorf("%s does not delete the retired role coopguardResponderKeySource", script)
		}
		for _, c := range find(cmds, "gcloud", "projects", "add-iam-policy-binding") {
			if strings.Contains(c.Line, "coopguardResponderKeySource") {
				t.Errorf("%s binds the retired role: %s", script, c)
			}
		}
	}
}

// TestDeployProbesReservedAuditLogIDs: deploy writes a JSON probe (never
// an AuditLog payload) under cloudaudit.googleapis.com%2Factivity, which
// must be refused; an accepted write aborts the deploy (deploy.sh dies).
func TestDeployProbesReservedAuditLogIDs(t *testing.T) {
	t.Parallel()
	cmds, _ := dryRun(t, "deploy.sh")
	probes := find(cmds, "gcloud", "logging", "write")
	if len(probes) != 1 {
		t.Fatalf("deploy writes %d log entries, want the one probe", len(probes))
	}
	p := probes[0]
	if !slices.Contains(p.Args, "cloudaudit.googleapis.com%2Factivity") || flag(t, p, "payload-type") != "json" || !strings.Contains(strings.Join(p.Args, " "), `"coopguard-probe"`) {
		t.Errorf("probe = %s, want a JSON coopguard-probe entry to cloudaudit.googleapis.com%%2Factivity", p)
	}
}

// TestDeployFleetGrants: with [coopguard.fleet] set, deploy grants the
// provisioner, and no other account, what creating sandbox projects needs,
// on the folder and the billing account only (deploy.GrantFleet); without
// it, nothing there.
func TestDeployFleetGrants(t *testing.T) {
	t.Parallel()
	provisioner := "serviceAccount:coopguard-provisioner@" + testProject + ".iam.gserviceaccount.com"
	tests := []struct {
		name string
		env  []string
		want map[string][]string // resource → roles
	}{
		{"no fleet", nil, nil},
		{"fleet", []string{"COOPGUARD_FLEET_FOLDER=folders/424242424242", "COOPGUARD_FLEET_BILLING_ACCOUNT=billingAccounts/0A1B2C-3D4E5F-6A7B8C"}, map[string][]string{
			"folder 424242424242":          {"roles/resourcemanager.projectCreator", "roles/iam.roleAdmin", "roles/resourcemanager.projectIamAdmin"},
			"billing 0A1B2C-3D4E5F-6A7B8C": {"roles/billing.user"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, _ := dryRun(t, "deploy.sh", tt.env...)
			got := map[string][]string{}
			for _, c := range append(find(cmds, "gcloud", "resource-manager", "folders", "add-iam-policy-binding"), find(cmds, "gcloud", "billing", "accounts", "add-iam-policy-binding")...) {
				if m := flag(t, c, "member"); m != provisioner {
					t.Errorf("%s grants %s, want the provisioner only", c.Line, m)
				}
				kind := "folder"
				if c.Args[1] == "billing" {
					kind = "billing"
				}
				got[kind+" "+c.Args[4]] = append(got[kind+" "+c.Args[4]], flag(t, c, "role"))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("fleet grants = %v, want %v", got, tt.want)
			}
			for res, roles := range tt.want {
				if !slices.Equal(got[res], roles) {
					t.Errorf("%s: roles %v, want %v", res, got[res], roles)
				}
			}
		})
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "deploy", "deploy.sh"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DRY_RUN=1", "DEPLOY_WORKDIR=" + t.TempDir(), "PROJECT=" + testProject, "REGION=" + testRegion,
		"COOPGUARD_FLEET_FOLDER=folders/1"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "COOPGUARD_FLEET_BILLING_ACCOUNT is required") {
		t.Errorf("a folder without a billing account: err %v, output %q; want deploy to refuse naming COOPGUARD_FLEET_BILLING_ACCOUNT", err, out)
	}
}
