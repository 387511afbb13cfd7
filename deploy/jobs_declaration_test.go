package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
)

// TestJobsScriptIsGenerated: deploy/jobs.sh, which lib.sh sources, is
// what config.Jobs generates, so deploy.sh deploys the declared jobs.
func TestJobsScriptIsGenerated(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), deploy.JobsScriptFile))
	if err != nil {
		t.Fatalf("%v: run go generate ./deploy", err)
	}
	if string(b) != deploy.JobsScript() {
		t.Errorf("%s is not what config.Jobs generates: run go generate ./deploy", deploy.JobsScriptFile)
	}
}

// TestJobsDeclaration: the declared jobs are complete and distinct, each
// role file of a job exists (and no other), each trigger names a topic
// lib.sh sets from its configuration variable, and lib.sh itself defines
// no job fact the generated file holds.
func TestJobsDeclaration(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	script := deploy.JobsScript()
	lib, err := os.ReadFile(filepath.Join(root, "deploy", "lib.sh"))
	if err != nil {
		t.Fatal(err)
	}
	accounts, roles, services := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, j := range config.Jobs {
		if accounts[j.Account] || roles[j.Role] {
			t.Errorf("job %s (%s) is declared twice", j.Role, j.Account)
		}
		accounts[j.Account], roles[j.Role] = true, true
		if !j.Has(config.RoleProject) {
			t.Errorf("job %s has no project role file", j.Role)
		}
		if len(j.Functions) == 0 || j.Title == "" {
			t.Errorf("job %s: no functions or no title", j.Role)
		}
		for _, f := range j.Functions {
			if services[f.Service] || !strings.HasPrefix(f.Service, "coopguard-") {
				t.Errorf("function %s: service %q is taken or not a coopguard- name", f.Name, f.Service)
			}
			services[f.Service] = true
			if f.HTTP() {
				if f.Schedule != nil {
					t.Errorf("function %s is HTTP-triggered but has a schedule", f.Name)
				}
				continue
			}
			env := config.TopicEnv(f.Topic)
			if env == "" {
				t.Errorf("function %s: topic %q is no field of config.Topics", f.Name, f.Topic)
				continue
			}
			want := deploy.TopicVar(f.Topic) + "=${" + env + ":-" + config.Defaults().Coopguard.Topics.Topic(f.Topic) + "}\n"
			if !strings.Contains(script, want) {
				t.Errorf("deploy/jobs.sh lacks %q", strings.TrimSpace(want))
			}
		}
	}
	for _, w := range []string{"SA_INVOKER=" + deploy.AccountInvoker + "\n",
		"SANDBOX_VM=${COOPGUARD_VM_NAME:-" + config.Defaults().VM.Name + "}\n"} {
		if !strings.Contains(script, w) {
			t.Errorf("deploy/jobs.sh lacks %q", strings.TrimSpace(w))
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^((SA|ROLE|JOB_ROLES|TOPIC|SUB)_\w+|JOBS|ACT_AS|FUNCTIONS|SCHEDULES|SANDBOX_VM|MAX_DELIVERY_ATTEMPTS|CONFIG_ENV)=`).FindAllStringSubmatch(string(lib), -1) {
		t.Errorf("deploy/lib.sh sets %s: it comes from shared/config through the generated deploy/jobs.sh only", m[1])
	}

	declared := map[string]bool{}
	for file := range deploy.RoleIDs {
		declared[file] = true
		r, err := deploy.EmbeddedRole(file)
		if err != nil || len(r.IncludedPermissions) == 0 {
			t.Errorf("role file %s of config.Jobs: %v", deploy.RoleFile(file), err)
		}
	}
	files, err := filepath.Glob(filepath.Join(root, "deploy", "roles", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("deploy/roles/*.yaml: %v %v", files, err)
	}
	for _, f := range files {
		if role := strings.TrimSuffix(filepath.Base(f), ".yaml"); !declared[role] {
			t.Errorf("deploy/roles/%s is no role file of config.Jobs: add its kind to the job's Roles or remove the file", filepath.Base(f))
		}
	}
}

// TestReadmeJobsTables: the README's table of functions and its table of
// what each account may do name the functions config.Jobs declares, with
// their triggers and accounts.
func TestReadmeJobsTables(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([^|]+) \\|")
	rows := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		if _, dup := rows[m[1]]; !dup {
			rows[m[1]] = strings.TrimSpace(m[2])
		}
	}
	for _, j := range config.Jobs {
		var names []string
		for _, f := range j.Functions {
			names = append(names, f.Name)
			trigger, ok := rows[f.Name]
			switch {
			case !ok:
				t.Errorf("README's table of functions has no row for %s", f.Name)
			case f.HTTP() != strings.HasPrefix(trigger, "HTTP"):
				t.Errorf("README: %s's trigger is %q; config.Jobs says HTTP=%v", f.Name, trigger, f.HTTP())
			case (f.Schedule != nil) != strings.Contains(trigger, "Cloud Scheduler"):
				t.Errorf("README: %s's trigger is %q; config.Jobs says scheduled=%v", f.Name, trigger, f.Schedule != nil)
			}
		}
		if got, want := rows[j.Account], strings.Join(names, ", "); got != want {
			t.Errorf("README's IAM table: %s runs %q, config.Jobs says %q", j.Account, got, want)
		}
	}
	// What deploy creates: every function and account, by name.
	for label, want := range map[string]func(config.Job) []string{
		"| functions (Cloud Run functions, gen2) |": func(j config.Job) []string {
			var out []string
			for _, f := range j.Functions {
				out = append(out, "`"+f.Service+"` ("+f.Name)
			}
			return out
		},
		"| service accounts |": func(j config.Job) []string { return []string{"`" + j.Account + "`"} },
	} {
		_, line, ok := strings.Cut(string(b), "\n"+label)
		line, _, _ = strings.Cut(line, "\n")
		if !ok {
			t.Errorf("README has no row %q in its table of what deploy creates", label)
		}
		for _, j := range config.Jobs {
			for _, w := range want(j) {
				if !strings.Contains(line, w) {
					t.Errorf("README's row %q does not name %s", label, w)
				}
			}
		}
	}
	declared := map[string]bool{}
	for _, f := range config.Functions() {
		declared[f.Name] = true
	}
	for name, trigger := range rows {
		if (strings.HasPrefix(trigger, "HTTP") || strings.HasPrefix(trigger, "Pub/Sub")) && !declared[name] {
			t.Errorf("README lists function %s (%s), which config.Jobs does not declare", name, trigger)
		}
	}
}
