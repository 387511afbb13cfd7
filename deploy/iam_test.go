package deploy_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/deploy"
)

// TestRolesMatchTheCode: every GCP method the deployed code calls is covered
// by the custom role of the function that calls it, and the role grants
// nothing else. Calls are found in the source (deploy.Scan) and attributed by
// package (deploy.Attribute): provisioner/ → provisioner; functions/ and what
// it imports (actions, rotation, respond, Status, shared/…) → responder.
func TestRolesMatchTheCode(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	at := mustAttribute(t, scan(t))
	byRole := at.ByRole
	for _, c := range at.Undeployed {
		t.Logf("not deployed (no function imports its package), needs no role: %s", c)
	}
	if len(byRole[deploy.RoleProvisioner]) == 0 || len(byRole[deploy.RoleResponder]) == 0 {
		t.Fatalf("the scanner found no calls for a role (%d provisioner, %d responder): it is broken, not the roles",
			len(byRole[deploy.RoleProvisioner]), len(byRole[deploy.RoleResponder]))
	}
	req := deploy.Requirements(byRole)
	for _, c := range req.Unknown {
		t.Errorf("%s: no row for %s in the emulator's table of RPCs — add it to test/emulator/audit/table.go (or its client to deploy.services)", c.Pos, c.Method)
	}
	for role := range deploy.RoleIDs {
		file := deploy.RoleFile(role)
		r, err := deploy.ReadRole(filepath.Join(root, file))
		if err != nil {
			t.Errorf("role %s: %v", role, err)
			continue
		}
		need := req.Perms[role]
		have := map[string]bool{}
		for _, p := range r.IncludedPermissions {
			if have[p] {
				t.Errorf("%s lists %s twice", file, p)
			}
			have[p] = true
		}
		var missing, extra []string
		for p, calls := range need {
			if !have[p] {
				missing = append(missing, fmt.Sprintf("  %s  (needed by %s)", p, sites(calls)))
			}
		}
		for p := range have {
			if _, ok := need[p]; !ok {
				extra = append(extra, "  "+p)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 {
			t.Errorf("%s is missing permissions the %s code needs — add them:\n%s", file, role, strings.Join(missing, "\n"))
		}
		if len(extra) > 0 {
			t.Errorf("%s grants permissions no %s code uses — remove them (or the call they were for is gone):\n%s", file, role, strings.Join(extra, "\n"))
		}
	}
	for role := range deploy.RoleIDs {
		if !sort.StringsAreSorted(mustRole(t, root, role)) {
			t.Errorf("%s: keep includedPermissions sorted, so reviews see what changed", deploy.RoleFile(role))
		}
	}
	for role, perms := range req.Perms {
		if _, ok := deploy.RoleIDs[role]; !ok {
			t.Errorf("the %s code needs a role file %s that deploy does not define (%d permissions)", role, deploy.RoleFile(role), len(perms))
		}
	}
}

func mustRole(t *testing.T, root, role string) []string {
	r, err := deploy.ReadRole(filepath.Join(root, deploy.RoleFile(role)))
	if err != nil {
		return nil
	}
	return r.IncludedPermissions
}

func sites(calls []deploy.CallSite) string {
	var s []string
	for _, c := range calls {
		s = append(s, c.String())
	}
	slices.Sort(s)
	s = slices.Compact(s)
	if len(s) > 3 {
		s = append(s[:3], fmt.Sprintf("and %d more", len(s)-3))
	}
	return strings.Join(s, ", ")
}

// TestDeployBindsRolesAndGrants: each job's service account gets its roles
// (its own, its managed-secrets and sandbox roles under a condition, its
// key-source role when a key source is set, its Firestore role), each function is deployed
// as its job's account, and deploy makes exactly the resource-level grants
// each job's code needs, to that job only.
func TestDeployBindsRolesAndGrants(t *testing.T) {
	t.Parallel()
	cmds, _ := dryRun(t, "deploy.sh", "COOPGUARD_ROTATION_KEY_SOURCE_URL=https://keys.example/mint",
		"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET=mint-token",
		"COOPGUARD_REVOKE_PROVIDER=anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET=admin-key")
	sa := func(id string) string { return "serviceAccount:" + id + "@" + testProject + ".iam.gserviceaccount.com" }
	type binding struct{ role, member string }
	bound := map[binding]string{} // → condition flag ("None" or the expression)
	for _, c := range find(cmds, "gcloud", "projects", "add-iam-policy-binding", testProject) {
		r, _ := c.Flag("role")
		m, _ := c.Flag("member")
		cond, _ := c.Flag("condition")
		bound[binding{r, m}] = cond
		if r == "roles/datastore.user" || r == "roles/datastore.viewer" {
			continue
		}
		if !strings.HasPrefix(r, "projects/"+testProject+"/roles/") {
			t.Errorf("deploy grants the predefined role %s on the project: use a custom role in deploy/roles/", r)
		}
	}
	want := map[binding]bool{}
	for _, j := range deploy.Jobs {
		member := sa(j.Account)
		for _, file := range []string{j.Role, deploy.SecretsRole(j.Role), deploy.KeySourceRole(j.Role), deploy.SandboxRole(j.Role), deploy.IdentityRole(j.Role)} {
			id, ok := deploy.RoleIDs[file]
			if !ok {
				continue
			}
			b := binding{"projects/" + testProject + "/roles/" + id, member}
			cond, ok := bound[b]
			switch {
			case file == deploy.IdentityRole(j.Role):
				// On the sandbox's own account, never the project.
				var onAccount int
				for _, c := range find(cmds, "gcloud", "iam", "service-accounts", "add-iam-policy-binding", "cc-sandbox@"+testProject+".iam.gserviceaccount.com") {
					if strings.Contains(c.Line, "--member="+member) && strings.Contains(c.Line, "--role="+b.role) {
						onAccount++
					}
				}
				if onAccount != 1 {
					t.Errorf("role %s is bound %d times to %s on the sandbox's account, want once", id, onAccount, member)
				}
				if ok {
					t.Errorf("role %s is bound to %s on the project: it holds on the sandbox's account only", id, member)
				}
			}
			if file != deploy.IdentityRole(j.Role) {
				want[b] = true
			}
			switch {
			case file == deploy.IdentityRole(j.Role):
			case !ok:
				t.Errorf("role %s is not bound to %s", id, member)
			case file == j.Role && cond != "None":
				t.Errorf("role %s is bound to %s under a condition %q: it is the job's project role", id, member, cond)
			case file != j.Role && !strings.Contains(cond, "resource.name"):
				t.Errorf("role %s is bound to %s without the managed secrets' condition (got %q)", id, member, cond)
			}
			for _, verb := range []string{"create", "update"} {
				c := find(cmds, "gcloud", "iam", "roles", verb, id)
				if len(c) != 1 || !strings.HasSuffix(flag(t, c[0], "file"), deploy.RoleFile(file)) {
					t.Errorf("no `gcloud iam roles %s %s --file=.../%s`", verb, id, deploy.RoleFile(file))
				}
			}
		}
		if j.Datastore != "" {
			b := binding{j.Datastore, member}
			want[b] = true
			if _, ok := bound[b]; !ok {
				t.Errorf("%s is not bound to %s: the job reads the incident store", j.Datastore, member)
			}
		}
		for _, fn := range j.Functions {
			var found bool
			for _, c := range find(cmds, "gcloud", "functions", "deploy") {
				if e, _ := c.Flag("entry-point"); e == fn.Name {
					found = true
					if got, _ := c.Flag("service-account"); "serviceAccount:"+got != member {
						t.Errorf("function %s is deployed as %s, want %s (job %s)", fn.Name, got, member, j.Role)
					}
				}
			}
			if !found {
				t.Errorf("deploy does not deploy function %s", fn.Name)
			}
		}
	}
	for b := range bound {
		if !want[b] {
			t.Errorf("deploy binds %s to %s, which no job needs", b.role, b.member)
		}
	}

	req := requirements(t)
	account := map[string]string{}
	for _, j := range deploy.Jobs {
		account[j.Role] = j.Account
	}
	// made[grant][job] is how many times deploy makes the grant to the job.
	made := map[string]map[string]int{deploy.GrantActAs: {}, deploy.GrantCredential: {}}
	for _, j := range deploy.Jobs {
		for _, c := range find(cmds, "gcloud", "iam", "service-accounts", "add-iam-policy-binding", "cc-sandbox@"+testProject+".iam.gserviceaccount.com") {
			if strings.Contains(c.Line, "--member="+sa(j.Account)) && strings.Contains(c.Line, "--role=roles/iam.serviceAccountUser") {
				made[deploy.GrantActAs][j.Role]++
			}
		}
		for _, secret := range []string{"mint-token", "admin-key"} {
			for _, c := range find(cmds, "gcloud", "secrets", "add-iam-policy-binding", secret) {
				if strings.Contains(c.Line, "--member="+sa(j.Account)) && strings.Contains(c.Line, "--role=roles/secretmanager.secretAccessor") {
					made[deploy.GrantCredential][j.Role]++
				}
			}
		}
	}
	for g, byJob := range made {
		for _, j := range deploy.Jobs {
			calls, needed := req.Grants[g][j.Role]
			n := byJob[j.Role]
			switch {
			case needed && n == 0:
				t.Errorf("the %s code needs grant %s (%s) but deploy does not make it to %s", j.Role, g, sites(calls), account[j.Role])
			case !needed && n > 0:
				t.Errorf("deploy makes grant %s to %s but no %s code needs it: remove it from deploy/deploy.sh", g, account[j.Role], j.Role)
			}
		}
	}
	// Each credential goes to the jobs that read it: the key source's to
	// the rotator, the Admin API key to the responder (revoking) and the
	// cost watch (reading the usage report).
	for secret, jobs := range map[string][]string{"mint-token": {deploy.AccountRotator}, "admin-key": {deploy.AccountResponder, deploy.AccountCosts}} {
		c := find(cmds, "gcloud", "secrets", "add-iam-policy-binding", secret)
		if len(c) != len(jobs) {
			t.Errorf("secret %s: want one accessor grant each to %v; got %v", secret, jobs, c)
			continue
		}
		for i, job := range jobs {
			if !strings.Contains(c[i].Line, "--member="+sa(job)) {
				t.Errorf("secret %s: grant %d is not to %s: %v", secret, i, job, c[i])
			}
		}
	}
}
