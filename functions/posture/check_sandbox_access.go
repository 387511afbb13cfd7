package posture

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// sandboxAccess: each of coopguard's jobs that changes a sandbox's VM
// (the responder contains, the restorer restores) holds its sandbox role
// under the condition naming this sandbox's instance and disk. Without it
// the containment of this sandbox fails at the first stop or tag, at
// whatever hour the incident comes.
type sandboxAccess struct{}

func (sandboxAccess) Name() string { return "sandbox-access" }

func (sandboxAccess) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	pol, err := in.projectPolicy(ctx, c)
	if err != nil {
		return readError(err, "resourcemanager.projects.getIamPolicy")
	}
	missingAccounts := provisioner.SandboxAccessMissing(pol, in.Project(), in.Sandbox.Zone, in.Sandbox.Name)
	var missing, have []string
	for a := range config.SandboxRoles {
		if slices.Contains(missingAccounts, a) {
			missing = append(missing, a+" ("+config.SandboxRoles[a]+")")
		} else {
			have = append(have, a)
		}
	}
	sort.Strings(missing)
	sort.Strings(have)
	if len(missing) > 0 {
		return fail(fmt.Sprintf("sandbox %s: not named in the %s condition of %s: coopguard cannot contain or restore it",
			in.Sandbox.Name, config.SandboxConditionTitle, strings.Join(missing, ", ")),
			"coopguard provision --config FILE (it names the sandbox in the condition); for the configured sandbox, run deploy/deploy.sh again")
	}
	return pass("sandbox %s: its VM and disk named in %s for %s", in.Sandbox.Name, config.SandboxConditionTitle, strings.Join(have, ", "))
}
