package config

// The service accounts coopguard runs as (account ids), one per job; Jobs
// says which functions run as each. Their calls are coopguard's own work,
// which never triggers a detection rule.
const (
	AccountResponder   = "coopguard-responder"
	AccountRestorer    = "coopguard-restorer"
	AccountReader      = "coopguard-reader"
	AccountRotator     = "coopguard-rotator"
	AccountProvisioner = "coopguard-provisioner"
	AccountCosts       = "coopguard-costs"
	AccountReviewer    = "coopguard-reviewer"
)

// Accounts lists every account coopguard's functions run as (Jobs).
var Accounts = accountsOf(func(Job) bool { return true })

// ActAsAccounts are the accounts of the jobs that act as the sandbox's own
// service account (Job.ActAs: roles/iam.serviceAccountUser on it).
// deploy/jobs_test.go keeps them in step with the code's calls.
var ActAsAccounts = accountsOf(func(j Job) bool { return j.ActAs })

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
