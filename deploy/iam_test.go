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
	root := repoRoot(t)
	pkgs, err := deploy.Scan(root, deploy.Ignored...)
	if err != nil {
		t.Fatal(err)
	}
	byRole, undeployed := deploy.Attribute(pkgs)
	for _, c := range undeployed {
		t.Logf("not deployed (no function imports its package), needs no role: %s", c)
	}
	if len(byRole[deploy.RoleProvisioner]) == 0 || len(byRole[deploy.RoleResponder]) == 0 {
		t.Fatalf("the scanner found no calls for a role (%d provisioner, %d responder): it is broken, not the roles",
			len(byRole[deploy.RoleProvisioner]), len(byRole[deploy.RoleResponder]))
	}
	req := deploy.Requirements(byRole)
	for _, c := range req.Unknown {
		t.Errorf("%s: no IAM mapping for %s — add it to deploy.Methods (deploy/permissions.go)", c.Pos, c.Method)
	}
	for _, role := range []string{deploy.RoleResponder, deploy.RoleResponderKeySource, deploy.RoleResponderSecrets, deploy.RoleProvisioner} {
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
	if !sort.StringsAreSorted(mustRole(t, root, deploy.RoleResponder)) || !sort.StringsAreSorted(mustRole(t, root, deploy.RoleProvisioner)) {
		t.Error("keep includedPermissions sorted, so reviews see what changed")
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

// TestDeployBindsRolesAndGrants: each function's service account gets its
// role, and deploy makes exactly the resource-level grants the code needs.
// firestoreRole is the one predefined role deploy grants on the project.
const firestoreRole = "roles/datastore.user"

func TestDeployBindsRolesAndGrants(t *testing.T) {
	cmds, _ := dryRun(t, "deploy.sh", "COOPGUARD_ROTATION_KEY_SOURCE_URL=https://keys.example/mint",
		"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET=mint-token")
	sa := func(id string) string { return "serviceAccount:" + id + "@" + testProject + ".iam.gserviceaccount.com" }
	bindings := map[string]string{} // role id → member
	for _, c := range find(cmds, "gcloud", "projects", "add-iam-policy-binding", testProject) {
		r, _ := c.Flag("role")
		m, _ := c.Flag("member")
		if prev, ok := bindings[r]; ok && prev != m {
			t.Errorf("role %s bound to %s and %s", r, prev, m)
		}
		bindings[r] = m
		if r == firestoreRole {
			continue
		}
		if !strings.HasPrefix(r, "projects/"+testProject+"/roles/") {
			t.Errorf("deploy grants the predefined role %s on the project: use a custom role in deploy/roles/", r)
		}
	}
	// The incident store: Firestore's predefined data role, to the
	// responder only (it has no custom-role equivalent worth keeping in
	// step with Firestore's permissions).
	if got := bindings[firestoreRole]; got != sa("coopguard-responder") {
		t.Errorf("%s bound to %q, want the responder only", firestoreRole, got)
	}
	want := map[string]string{
		"coopguardResponder":          sa("coopguard-responder"),
		"coopguardResponderKeySource": sa("coopguard-responder"),
		"coopguardResponderSecrets":   sa("coopguard-responder"),
		"coopguardProvisioner":        sa("coopguard-provisioner"),
	}
	for id, member := range want {
		if got := bindings["projects/"+testProject+"/roles/"+id]; got != member {
			t.Errorf("role %s bound to %q, want %q", id, got, member)
		}
	}
	files := map[string]string{
		"coopguardResponder":          deploy.RoleFile(deploy.RoleResponder),
		"coopguardResponderKeySource": deploy.RoleFile(deploy.RoleResponderKeySource),
		"coopguardResponderSecrets":   deploy.RoleFile(deploy.RoleResponderSecrets),
		"coopguardProvisioner":        deploy.RoleFile(deploy.RoleProvisioner),
	}
	for id, file := range files {
		for _, verb := range []string{"create", "update"} {
			c := find(cmds, "gcloud", "iam", "roles", verb, id)
			if len(c) != 1 || !strings.HasSuffix(flag(t, c[0], "file"), file) {
				t.Errorf("no `gcloud iam roles %s %s --file=.../%s`", verb, id, file)
			}
		}
	}

	pkgs, err := deploy.Scan(repoRoot(t), deploy.Ignored...)
	if err != nil {
		t.Fatal(err)
	}
	byRole, _ := deploy.Attribute(pkgs)
	req := deploy.Requirements(byRole)
	actAs := func(account string) bool {
		n := 0
		for _, c := range find(cmds, "gcloud", "iam", "service-accounts", "add-iam-policy-binding", "cc-sandbox@"+testProject+".iam.gserviceaccount.com") {
			if strings.Contains(c.Line, "--member="+sa(account)) && strings.Contains(c.Line, "--role=roles/iam.serviceAccountUser") {
				n++
			}
		}
		return n == 1
	}
	grants := map[string]bool{
		deploy.GrantSandboxActAs:        actAs("coopguard-provisioner"),
		deploy.GrantResponderActAs:      actAs("coopguard-responder"),
		deploy.GrantKeySourceCredential: len(find(cmds, "gcloud", "secrets", "add-iam-policy-binding", "mint-token")) == 1,
	}
	for g, made := range grants {
		calls, needed := req.Grants[g]
		switch {
		case needed && !made:
			t.Errorf("the code needs grant %s (%s) but deploy does not make it", g, sites(calls))
		case !needed && made:
			t.Errorf("deploy makes grant %s but no code needs it: remove it from deploy/deploy.sh", g)
		}
	}
}
