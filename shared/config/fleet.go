package config

import (
	"regexp"
	"strings"
)

// Fleet is the [coopguard.fleet] table: where Provision creates a
// sandbox's own project when the request asks for one (cloudcoop's
// security guide, "Use Separate Projects"). Both are empty when coopguard
// guards sandboxes in projects that exist already (or in its own).
type Fleet struct {
	// Folder is the folder new sandbox projects are created under,
	// "folders/NUMBER" (gcloud resource-manager folders list).
	Folder string `toml:"folder" env:"COOPGUARD_FLEET_FOLDER"`
	// BillingAccount is the Cloud Billing account new sandbox projects
	// are linked to, "billingAccounts/XXXXXX-XXXXXX-XXXXXX" (gcloud
	// billing accounts list).
	BillingAccount string `toml:"billing_account" env:"COOPGUARD_FLEET_BILLING_ACCOUNT"`
}

var folderName = regexp.MustCompile(`^folders/[1-9][0-9]{0,18}$`)

// CreatesProjects reports whether Provision may create sandbox projects:
// a folder and a billing account are both configured.
func (f Fleet) CreatesProjects() bool { return f.Folder != "" && f.BillingAccount != "" }

// validateFleet checks [coopguard.fleet]: both keys or neither, each in
// the form its API names it.
func (c *Config) validateFleet(bad func(key, env, format string, args ...any)) {
	f := c.Coopguard.Fleet
	if f.Folder == "" && f.BillingAccount == "" {
		return
	}
	switch {
	case f.Folder == "":
		bad("coopguard.fleet.folder", "COOPGUARD_FLEET_FOLDER", "is required with billing_account: the folder sandbox projects are created under, folders/NUMBER (gcloud resource-manager folders list --organization=ORG)")
	case !folderName.MatchString(f.Folder):
		hint := ""
		if !strings.HasPrefix(f.Folder, "folders/") {
			hint = " (write the folder's number with the folders/ prefix, not its display name)"
		}
		bad("coopguard.fleet.folder", "COOPGUARD_FLEET_FOLDER", "%q is not a folder name: want folders/NUMBER, e.g. folders/123456789012%s", f.Folder, hint)
	}
	switch {
	case f.BillingAccount == "":
		bad("coopguard.fleet.billing_account", "COOPGUARD_FLEET_BILLING_ACCOUNT", "is required with folder: the billing account new sandbox projects are linked to, billingAccounts/XXXXXX-XXXXXX-XXXXXX (gcloud billing accounts list)")
	case !strings.HasPrefix(f.BillingAccount, "billingAccounts/") || !billingAccountID.MatchString(strings.TrimPrefix(f.BillingAccount, "billingAccounts/")):
		bad("coopguard.fleet.billing_account", "COOPGUARD_FLEET_BILLING_ACCOUNT", "%q is not a billing account name: want billingAccounts/ and the account id, six uppercase hex digits three times joined by hyphens (gcloud billing accounts list --format='value(name)')", f.BillingAccount)
	}
}
