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
	AccountRestorer    = config.AccountRestorer
	AccountReader      = config.AccountReader
	AccountRotator     = config.AccountRotator
	AccountProvisioner = config.AccountProvisioner
	AccountInvoker     = "coopguard-invoker"
)

// Job is one of coopguard's identities: the account, the functions
// deployed as it, its role files and its access to the incident store.
type Job struct {
	// Role is the job's role file (RoleResponder, …); SecretsRole(Role)
	// and KeySourceRole(Role) are bound too where they exist.
	Role    string
	Account string
	// Functions are the entry points deployed as Account.
	Functions []string
	// Datastore is the predefined Firestore role on the project: the
	// incident store (none for the provisioner).
	Datastore string
}

// Jobs lists coopguard's identities. deploy.sh creates and binds the same
// (deploy/iam_test.go), and the emulated GCP deploys from this table.
var Jobs = []Job{
	// FinishIncidents carries on the responder's containments (the stop,
	// the snapshot, the evidence), so it runs with the responder's roles.
	{Role: RoleResponder, Account: AccountResponder, Functions: []string{"HandleAlert", "HandleLogEntry", "FinishIncidents"}, Datastore: "roles/datastore.user"},
	{Role: RoleRestorer, Account: AccountRestorer, Functions: []string{"Resolve"}, Datastore: "roles/datastore.user"},
	{Role: RoleReader, Account: AccountReader, Functions: []string{"Status", "Posture"}, Datastore: "roles/datastore.viewer"},
	{Role: RoleRotator, Account: AccountRotator, Functions: []string{"RotateKeys"}, Datastore: "roles/datastore.user"},
	{Role: RoleProvisioner, Account: AccountProvisioner, Functions: []string{"Provision"}},
}

// RoleIDs maps a role file (RoleResponder, …) to its custom role id.
var RoleIDs = map[string]string{
	RoleResponder:               "coopguardResponder",
	SecretsRole(RoleResponder):  "coopguardResponderSecrets",
	SandboxRole(RoleResponder):  config.SandboxRoles[AccountResponder],
	RoleRestorer:                "coopguardRestorer",
	SecretsRole(RoleRestorer):   "coopguardRestorerSecrets",
	SandboxRole(RoleRestorer):   config.SandboxRoles[AccountRestorer],
	IdentityRole(RoleResponder): config.IdentityRoles[AccountResponder],
	IdentityRole(RoleRestorer):  config.IdentityRoles[AccountRestorer],
	IdentityRole(RoleRotator):   config.IdentityRoles[AccountRotator],
	RoleReader:                  "coopguardReader",
	SecretsRole(RoleReader):     "coopguardReaderSecrets",
	RoleRotator:                 "coopguardRotator",
	SecretsRole(RoleRotator):    "coopguardRotatorSecrets",
	KeySourceRole(RoleRotator):  "coopguardRotatorKeySource",
	RoleProvisioner:             "coopguardProvisioner",
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
