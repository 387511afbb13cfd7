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

// The accounts coopguard runs as and the custom role ids, as deploy/lib.sh
// names them (deploy/identity_test.go keeps both in step).
const (
	AccountResponder   = config.AccountResponder
	AccountProvisioner = config.AccountProvisioner
	AccountInvoker     = "coopguard-invoker"
)

// RoleIDs maps a role file (RoleResponder, …) to its custom role id.
var RoleIDs = map[string]string{
	RoleResponder:          "coopguardResponder",
	RoleResponderKeySource: "coopguardResponderKeySource",
	RoleResponderSecrets:   "coopguardResponderSecrets",
	RoleProvisioner:        "coopguardProvisioner",
}

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
