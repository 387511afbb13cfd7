package deploy_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// scan scans the repository's deployed source.
func scan(t *testing.T) map[string]*deploy.Package {
	t.Helper()
	pkgs, err := deploy.Scan(repoRoot(t), deploy.Ignored...)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// requirements is what the deployed code needs, by job.
func requirements(t *testing.T) deploy.Required {
	t.Helper()
	byRole, _ := deploy.Attribute(scan(t))
	return deploy.Requirements(byRole)
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
// no job claims would count for every job (deploy.Attribute), read-only
// ones too; the scanner must not find one.
func TestEveryFunctionsCallIsClaimed(t *testing.T) {
	pkgs := scan(t)
	n := 0
	for _, p := range pkgs {
		for _, c := range p.Calls {
			if strings.HasPrefix(c.Dir, "provisioner") {
				continue
			}
			n++
			if _, ok := deploy.Claimed(c); !ok {
				t.Errorf("%s: no job claims %s — add its file to deploy.Claims (deploy/roles.go) with the jobs that run it", c.Pos, c.File)
			}
		}
	}
	if n == 0 {
		t.Fatal("the scanner found no calls in the functions binary: it is broken")
	}
}

// TestActionClaimsFollowPlaybooks: an action file that calls GCP is
// claimed by every job whose playbooks run it — contain, quarantine and
// notify by the responder, their follow-ups too (FinishIncidents runs as
// the responder; notify by the rotator too: posture drift, whose dry run
// looks at its follow-up at once), the restore playbook by the restorer.
func TestActionClaimsFollowPlaybooks(t *testing.T) {
	pkgs := scan(t)
	hasCalls := map[string]bool{}
	for _, c := range pkgs["functions/actions"].Calls {
		hasCalls[c.File] = true
	}
	plans := map[string][]playbook.Plan{deploy.RoleRestorer: {playbook.Restore()}}
	for _, name := range []string{incident.PlaybookContain, incident.PlaybookQuarantine, incident.PlaybookNotify} {
		p, err := playbook.For(name)
		if err != nil {
			t.Fatal(err)
		}
		plans[deploy.RoleResponder] = append(plans[deploy.RoleResponder], p)
		if name == incident.PlaybookNotify {
			plans[deploy.RoleRotator] = append(plans[deploy.RoleRotator], p)
		}
	}
	checked := 0
	for job, ps := range plans {
		for _, p := range ps {
			for _, s := range p.All() {
				file := "functions/actions/" + strings.ReplaceAll(s.Action, "-", "") + ".go"
				if !hasCalls[file] {
					continue
				}
				checked++
				if roles := deploy.Claims[file]; !slices.Contains(roles, job) {
					t.Errorf("%s (action %s, playbook %s) is claimed by %v, not by %s which runs it", file, s.Action, p.Playbook, roles, job)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no action file with calls found: the file naming changed")
	}
}

// TestActAsAccountsMatchTheCode: the accounts Provision lets act as a
// sandbox's own account (config.ActAsAccounts) are exactly the jobs whose
// code needs actAs.
func TestActAsAccountsMatchTheCode(t *testing.T) {
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
