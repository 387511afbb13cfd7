package deploy_test

import (
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
)

// scanned is the scan of the repository's deployed source, made once for
// the tests that read it.
var scanned = sync.OnceValues(func() (map[string]*deploy.Package, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	return deploy.Scan(root, deploy.Ignored...)
})

// scan scans the repository's deployed source; callers only read it.
func scan(t *testing.T) map[string]*deploy.Package {
	t.Helper()
	pkgs, err := scanned()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// attribute attributes the deployed code's calls to its jobs.
func attribute(t *testing.T) deploy.Attribution {
	t.Helper()
	return mustAttribute(t, scan(t))
}

// requirements is what the deployed code needs, by job.
func requirements(t *testing.T) deploy.Required {
	t.Helper()
	return deploy.Requirements(attribute(t).ByRole)
}

// jobPerms is every permission of job's role files that exist.
func jobPerms(t *testing.T, job string) map[string]bool {
	t.Helper()
	root := repoRoot(t)
	out := map[string]bool{}
	for _, file := range []string{job, deploy.SecretsRole(job), deploy.KeySourceRole(job), deploy.SandboxRole(job)} {
		if _, ok := deploy.RoleIDs[file]; !ok {
			continue
		}
		r, err := deploy.ReadRole(filepath.Join(root, deploy.RoleFile(file)))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range r.IncludedPermissions {
			out[p] = true
		}
	}
	return out
}

// TestJobsHoldOnlyTheirJob: the split of coopguard's identities, read from
// the role files deploy binds. The responder contains but cannot undo a
// containment or destroy a key; the restorer undoes but cannot contain or
// destroy; the reader only reads.
func TestJobsHoldOnlyTheirJob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		job    string
		never  []string
		onlyRO bool
	}{
		{job: deploy.RoleResponder, never: []string{"compute.instances.start", "secretmanager.versions.enable", "secretmanager.versions.destroy", "secretmanager.versions.add"}},
		{job: deploy.RoleRestorer, never: []string{"compute.instances.stop", "compute.disks.createSnapshot", "secretmanager.versions.disable", "secretmanager.versions.destroy", "secretmanager.versions.add"}},
		{job: deploy.RoleReader, onlyRO: true},
		{job: deploy.RoleRotator, never: []string{"compute.instances.start", "compute.instances.stop", "secretmanager.versions.enable"}},
	} {
		t.Run(tc.job, func(t *testing.T) {
			perms := jobPerms(t, tc.job)
			if len(perms) == 0 {
				t.Fatalf("job %s has no permissions: its role files are missing", tc.job)
			}
			for _, p := range tc.never {
				if perms[p] {
					t.Errorf("job %s holds %s: that is another job's", tc.job, p)
				}
			}
			if !tc.onlyRO {
				return
			}
			for p := range perms {
				verb := p[strings.LastIndex(p, ".")+1:]
				if !strings.HasPrefix(verb, "get") && !strings.HasPrefix(verb, "list") {
					t.Errorf("the read-only job %s holds %s", tc.job, p)
				}
			}
		})
	}
}

// TestEveryFunctionsCallIsClaimed: a GCP call in the functions binary that
// no claim reaches would count for every job (deploy.Attribute), read-only
// ones too; the scanner must not find one.
func TestEveryFunctionsCallIsClaimed(t *testing.T) {
	t.Parallel()
	at := attribute(t)
	for _, c := range at.Unclaimed {
		t.Errorf("%s: no job claims %s (in %s) — claim it in deploy.Claims (deploy/roles.go), or call it from a claimed function of its package", c.Pos, c.Func, c.Dir)
	}
	n := 0
	for role, calls := range at.ByRole {
		if role != deploy.RoleProvisioner {
			n += len(calls)
		}
	}
	if n == 0 {
		t.Fatal("the scanner found no calls in the functions binary: it is broken")
	}
}

// TestRenamingAFileChangesNoRole: what each job needs does not depend on
// the names of the files its code is in.
func TestRenamingAFileChangesNoRole(t *testing.T) {
	t.Parallel()
	pkgs := scan(t)
	before := deploy.Requirements(mustAttribute(t, pkgs).ByRole)
	renamed := map[string]*deploy.Package{}
	for dir, p := range pkgs {
		q := *p
		q.Calls = nil
		for _, c := range p.Calls {
			c.File = path.Join(path.Dir(c.File), "renamed_"+path.Base(c.File))
			c.Pos = c.File
			q.Calls = append(q.Calls, c)
		}
		renamed[dir] = &q
	}
	after := deploy.Requirements(mustAttribute(t, renamed).ByRole)
	for role, perms := range before.Perms {
		if !slices.Equal(slices.Sorted(maps.Keys(perms)), slices.Sorted(maps.Keys(after.Perms[role]))) {
			t.Errorf("renaming the files changes what role file %s needs", role)
		}
	}
	if len(before.Perms) != len(after.Perms) {
		t.Errorf("renaming the files changes the role files needed: %d, then %d", len(before.Perms), len(after.Perms))
	}
}

func mustAttribute(t *testing.T, pkgs map[string]*deploy.Package) deploy.Attribution {
	t.Helper()
	at, err := deploy.Attribute(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestActAsAccountsMatchTheCode: the accounts Provision lets act as a
// sandbox's own account (config.ActAsAccounts) are exactly the jobs whose
// code needs actAs.
func TestActAsAccountsMatchTheCode(t *testing.T) {
	t.Parallel()
	need := requirements(t).Grants[deploy.GrantActAs]
	var want []string
	for _, j := range deploy.Jobs {
		if _, ok := need[j.Role]; ok {
			want = append(want, j.Account)
		}
	}
	got := slices.Clone(config.ActAsAccounts)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("config.ActAsAccounts = %v, but the jobs that set a VM's metadata or create one are %v", got, want)
	}
}

// TestSandboxRolesMatchTheCode: the jobs whose code changes a sandbox's
// VM or disk are exactly those with a sandbox role Provision names each
// sandbox for (config.SandboxRoles), under the ids deploy creates.
func TestSandboxRolesMatchTheCode(t *testing.T) {
	t.Parallel()
	perms := requirements(t).Perms
	for _, j := range deploy.Jobs {
		_, needs := perms[deploy.SandboxRole(j.Role)]
		id, has := config.SandboxRoles[j.Account]
		switch {
		case needs && !has:
			t.Errorf("the %s code changes a sandbox's VM, but config.SandboxRoles has no role for %s: Provision would not name sandboxes for it", j.Role, j.Account)
		case !needs && has:
			t.Errorf("config.SandboxRoles grants %s a sandbox role, but no %s code changes a VM", j.Account, j.Role)
		case has && deploy.RoleIDs[deploy.SandboxRole(j.Role)] != id:
			t.Errorf("config.SandboxRoles[%s] = %s, deploy creates %s", j.Account, id, deploy.RoleIDs[deploy.SandboxRole(j.Role)])
		}
	}
}
