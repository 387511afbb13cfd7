package config

// The service accounts coopguard runs as (account ids), one per job, as
// deploy names them (deploy/lib.sh): their calls are coopguard's own work,
// which never triggers a detection rule.
const (
	// AccountResponder runs HandleAlert and HandleLogEntry: containment.
	AccountResponder = "coopguard-responder"
	// AccountRestorer runs Resolve: undoing a containment.
	AccountRestorer = "coopguard-restorer"
	// AccountReader runs Status and Posture: reads only.
	AccountReader = "coopguard-reader"
	// AccountRotator runs RotateKeys: rotation and the scheduled posture.
	AccountRotator = "coopguard-rotator"
	// AccountProvisioner runs Provision.
	AccountProvisioner = "coopguard-provisioner"
)

// Accounts lists every account coopguard's functions run as.
var Accounts = []string{AccountResponder, AccountRestorer, AccountReader, AccountRotator, AccountProvisioner}

// ActAsAccounts are the accounts that act as the sandbox's own service
// account (roles/iam.serviceAccountUser on it): the provisioner creates the
// VM running as it; the responder sets and the restorer clears the agents
// flag in that VM's metadata. deploy/iam_test.go keeps this in step with
// the code's calls.
var ActAsAccounts = []string{AccountProvisioner, AccountResponder, AccountRestorer}

// CoopguardAccounts returns the emails of coopguard's own service
// accounts in the configured project.
func (c *Config) CoopguardAccounts() []string {
	out := make([]string, len(Accounts))
	for i, a := range Accounts {
		out[i] = AccountEmail(a, c.Cloud.GCP.Project)
	}
	return out
}

// AccountEmail is the email of a user-managed service account.
func AccountEmail(account, project string) string {
	return account + "@" + project + ".iam.gserviceaccount.com"
}
