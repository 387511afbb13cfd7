package config

// The service accounts coopguard runs as (account ids), as deploy names
// them (deploy/lib.sh): their calls are coopguard's own work, which never
// triggers a detection rule.
const (
	AccountResponder   = "coopguard-responder"
	AccountProvisioner = "coopguard-provisioner"
)

// CoopguardAccounts returns the emails of coopguard's own service
// accounts in the configured project.
func (c *Config) CoopguardAccounts() []string {
	p := c.Cloud.GCP.Project
	return []string{AccountEmail(AccountResponder, p), AccountEmail(AccountProvisioner, p)}
}

// AccountEmail is the email of a user-managed service account.
func AccountEmail(account, project string) string {
	return account + "@" + project + ".iam.gserviceaccount.com"
}
