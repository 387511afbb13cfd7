package deploy

import (
	"embed"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloudcoop/coopguard/shared/config"
)

// roleFiles are deploy/roles/*.yaml, embedded so the emulated GCP defines
// exactly the roles deploy creates.
//
//go:embed roles/*.yaml
var roleFiles embed.FS

// The accounts coopguard runs as, as config names them.
const (
	AccountResponder   = config.AccountResponder
	AccountRestorer    = config.AccountRestorer
	AccountReader      = config.AccountReader
	AccountRotator     = config.AccountRotator
	AccountProvisioner = config.AccountProvisioner
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

// EmbeddedRole returns the definition of a role file as deploy creates it.
func EmbeddedRole(role string) (*Role, error) {
	b, err := roleFiles.ReadFile("roles/" + role + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("deploy: no role file %s: %w", role, err)
	}
	var r Role
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("deploy: role file %s: %w", role, err)
	}
	return &r, nil
}
