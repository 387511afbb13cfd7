package deploy

import (
	"fmt"

	"github.com/cloudcoop/coopguard/deploy/roles"
	"github.com/cloudcoop/coopguard/shared/config"
)

// The accounts coopguard runs as, as config names them.
const (
	AccountResponder   = config.AccountResponder
	AccountRestorer    = config.AccountRestorer
	AccountReader      = config.AccountReader
	AccountRotator     = config.AccountRotator
	AccountProvisioner = config.AccountProvisioner
	AccountCosts       = config.AccountCosts
	AccountInvoker     = config.InvokerAccount
)

// Job is one of coopguard's identities (config.Job).
type Job = config.Job

// Jobs are coopguard's jobs as config declares them: deploy/jobs.sh is
// generated from them (JobsScript), and the emulated GCP deploys them.
var Jobs = config.Jobs

// RoleIDs maps every job's role file (RoleResponder, SecretsRole(…), …) to
// its custom role id.
var RoleIDs = func() map[string]string {
	m := map[string]string{}
	for _, j := range config.Jobs {
		for _, k := range j.Roles {
			m[j.RoleFile(k)] = j.RoleID(k)
		}
	}
	return m
}()

// AccountEmail is the email of a coopguard account in project.
func AccountEmail(account, project string) string { return config.AccountEmail(account, project) }

// EmbeddedRole returns the definition of a role file as deploy creates it
// (embedded by package deploy/roles, which Provision reads too).
func EmbeddedRole(role string) (*Role, error) {
	r, err := roles.Embedded(role)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	return r, nil
}
