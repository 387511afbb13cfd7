package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
)

// libVar is a role file's or job's variable in deploy/lib.sh:
// rotator-keysource → ROLE_ROTATOR_KEYSOURCE.
func libVar(prefix, name string) string {
	return prefix + strings.ReplaceAll(strings.ToUpper(name), "-", "_")
}

// TestIdentityMatchesLib keeps the Go names of coopguard's accounts and
// roles (which the emulated GCP deploys) in step with deploy/lib.sh: every
// job of deploy.Jobs is a JOBS entry with its account and Firestore role,
// every RoleIDs entry a ROLE_* variable (and no other), ACT_AS is
// config.ActAsAccounts.
func TestIdentityMatchesLib(t *testing.T) {
	b, err := os.ReadFile("lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	lib := string(b)
	want := []string{"SA_INVOKER=" + deploy.AccountInvoker + "\n",
		"SANDBOX_VM=${COOPGUARD_VM_NAME:-" + config.Defaults().VM.Name + "}\n"}
	for _, j := range deploy.Jobs {
		want = append(want, libVar("SA_", j.Role)+"="+j.Account+"\n")
	}
	for file, id := range deploy.RoleIDs {
		want = append(want, libVar("ROLE_", file)+"="+id+"\n")
	}
	for _, w := range want {
		if !strings.Contains(lib, w) {
			t.Errorf("deploy/lib.sh lacks %q", strings.TrimSpace(w))
		}
	}
	ids := map[string]bool{}
	for _, id := range deploy.RoleIDs {
		ids[id] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^(ROLE_\w+)=(\S*)$`).FindAllStringSubmatch(lib, -1) {
		if !ids[m[2]] {
			t.Errorf("deploy/lib.sh sets %s=%s, which is no role of deploy.RoleIDs: remove it", m[1], m[2])
		}
	}

	// JOBS: role file, account variable, Firestore role, display name.
	jobs := libList(t, "JOBS")
	if len(jobs) != len(deploy.Jobs) {
		t.Errorf("deploy/lib.sh JOBS has %d jobs, deploy.Jobs %d", len(jobs), len(deploy.Jobs))
	}
	for i, j := range deploy.Jobs {
		if i >= len(jobs) {
			break
		}
		datastore := j.Datastore
		if datastore == "" {
			datastore = "-"
		}
		f := strings.Fields(jobs[i])
		if len(f) < 4 || f[0] != j.Role || f[1] != libVar("SA_", j.Role) || f[2] != datastore {
			t.Errorf("deploy/lib.sh JOBS[%d] = %q, want %q followed by a display name", i, jobs[i],
				strings.Join([]string{j.Role, libVar("SA_", j.Role), datastore}, " "))
		}
	}

	var actAs []string
	for _, v := range libList(t, "ACT_AS") {
		for _, j := range deploy.Jobs {
			if v == libVar("SA_", j.Role) {
				actAs = append(actAs, j.Account)
			}
		}
	}
	if !slices.Equal(actAs, config.ActAsAccounts) {
		t.Errorf("deploy/lib.sh ACT_AS are the accounts %v, want config.ActAsAccounts %v", actAs, config.ActAsAccounts)
	}

	for role := range deploy.RoleIDs {
		r, err := deploy.EmbeddedRole(role)
		if err != nil || len(r.IncludedPermissions) == 0 {
			t.Errorf("embedded role %s: %v", role, err)
		}
	}
	// deploy.sh creates every role file of a job that exists: each must
	// be a role of deploy.RoleIDs.
	files, err := filepath.Glob(filepath.Join("roles", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("deploy/roles/*.yaml: %v %v", files, err)
	}
	for _, f := range files {
		if role := strings.TrimSuffix(filepath.Base(f), ".yaml"); deploy.RoleIDs[role] == "" {
			t.Errorf("deploy/%s is no role of deploy.RoleIDs: add it there or remove the file", f)
		}
	}
}
