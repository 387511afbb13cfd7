package deploy_test

import (
	"os"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/deploy"
)

// TestIdentityMatchesLib keeps the Go names of coopguard's accounts and
// roles (which the emulated GCP deploys) in step with deploy/lib.sh.
func TestIdentityMatchesLib(t *testing.T) {
	b, err := os.ReadFile("lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	lib := string(b)
	for _, want := range []string{
		"SA_RESPONDER=" + deploy.AccountResponder + "\n",
		"SA_PROVISIONER=" + deploy.AccountProvisioner + "\n",
		"SA_INVOKER=" + deploy.AccountInvoker + "\n",
		"ROLE_RESPONDER=" + deploy.RoleIDs[deploy.RoleResponder] + "\n",
		"ROLE_RESPONDER_KEYSOURCE=" + deploy.RoleIDs[deploy.RoleRotatorKeySource] + "\n",
		"ROLE_RESPONDER_SECRETS=" + deploy.RoleIDs[deploy.RoleResponderSecrets] + "\n",
		"ROLE_PROVISIONER=" + deploy.RoleIDs[deploy.RoleProvisioner] + "\n",
	} {
		if !strings.Contains(lib, want) {
			t.Errorf("deploy/lib.sh lacks %q", strings.TrimSpace(want))
		}
	}
	for role := range deploy.RoleIDs {
		r, err := deploy.EmbeddedRole(role)
		if err != nil || len(r.IncludedPermissions) == 0 {
			t.Errorf("embedded role %s: %v", role, err)
		}
	}
}
