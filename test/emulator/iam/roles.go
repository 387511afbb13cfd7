package iam

import (
	"strings"
)

// Role is a set of permissions. A pattern is a permission, "service.*"
// (every permission of a service) or "*"; Except removes permissions or
// "*.verb" suffix patterns from what the patterns grant.
type Role struct {
	Patterns []string
	Except   []string
}

// Grants reports whether the role contains permission.
func (r Role) Grants(permission string) bool {
	for _, x := range r.Except {
		if x == permission || (strings.HasPrefix(x, "*.") && strings.HasSuffix(permission, x[1:])) {
			return false
		}
	}
	for _, p := range r.Patterns {
		switch {
		case p == "*", p == permission:
			return true
		case strings.HasSuffix(p, ".*") && strings.HasPrefix(permission, p[:len(p)-1]):
			return true
		}
	}
	return false
}

// Predefined are the GCP predefined roles coopguard, its deploy, cloudcoop
// or the attack drills grant, with the permissions of theirs that the
// emulated APIs check (https://cloud.google.com/iam/docs/roles-permissions).
// Basic roles are modelled coarsely, and never more generously than GCP:
// editor holds no setIamPolicy (https://cloud.google.com/iam/docs/roles-overview#basic).
var Predefined = map[string]Role{
	"roles/owner":  {Patterns: []string{"*"}},
	"roles/editor": {Patterns: []string{"*"}, Except: []string{"*.setIamPolicy", "iam.roles.create", "iam.roles.update", "iam.roles.delete"}},
	"roles/viewer": {Patterns: []string{"*"}, Except: append([]string{"secretmanager.versions.access", "logging.privateLogEntries.list", "*.enable", "*.disable", "*.destroy", "*.add", "*.publish", "*.actAs", "*.consume", "*.route", "*.invoke"}, writeVerbs...)},

	"roles/logging.logWriter": {Patterns: []string{"logging.logEntries.create", "logging.logEntries.route"}},
	"roles/logging.viewer":    {Patterns: []string{"logging.logEntries.list", "logging.logs.list", "logging.sinks.get", "logging.sinks.list"}},
	// privateLogViewer is logging.viewer and the private logs (Data Access).
	"roles/logging.privateLogViewer": {Patterns: []string{"logging.logEntries.list", "logging.logs.list", "logging.sinks.get", "logging.sinks.list", "logging.privateLogEntries.list"}},
	"roles/logging.configWriter":     {Patterns: []string{"logging.sinks.*", "logging.exclusions.*", "logging.logs.list"}},
	"roles/logging.admin":            {Patterns: []string{"logging.*"}},

	"roles/monitoring.metricWriter": {Patterns: []string{"monitoring.timeSeries.create", "monitoring.metricDescriptors.create", "monitoring.metricDescriptors.get", "monitoring.metricDescriptors.list"}},
	"roles/monitoring.viewer":       {Patterns: []string{"monitoring.alertPolicies.get", "monitoring.alertPolicies.list", "monitoring.notificationChannels.get", "monitoring.notificationChannels.list", "monitoring.timeSeries.list", "monitoring.metricDescriptors.get", "monitoring.metricDescriptors.list"}},
	"roles/monitoring.editor":       {Patterns: []string{"monitoring.*"}},

	"roles/secretmanager.secretAccessor":       {Patterns: []string{"secretmanager.versions.access"}},
	"roles/secretmanager.viewer":               {Patterns: []string{"secretmanager.secrets.get", "secretmanager.secrets.list", "secretmanager.secrets.getIamPolicy", "secretmanager.versions.get", "secretmanager.versions.list", "secretmanager.locations.get", "secretmanager.locations.list"}},
	"roles/secretmanager.secretVersionManager": {Patterns: []string{"secretmanager.versions.add", "secretmanager.versions.enable", "secretmanager.versions.disable", "secretmanager.versions.destroy", "secretmanager.versions.get", "secretmanager.versions.list"}},
	"roles/secretmanager.admin":                {Patterns: []string{"secretmanager.*"}},

	"roles/pubsub.publisher":  {Patterns: []string{"pubsub.topics.publish"}},
	"roles/pubsub.subscriber": {Patterns: []string{"pubsub.subscriptions.consume", "pubsub.topics.attachSubscription", "pubsub.snapshots.seek"}},
	"roles/pubsub.admin":      {Patterns: []string{"pubsub.*"}},

	"roles/iam.serviceAccountUser":     {Patterns: []string{"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"}},
	"roles/iam.serviceAccountAdmin":    {Patterns: []string{"iam.serviceAccounts.*"}},
	"roles/iam.serviceAccountKeyAdmin": {Patterns: []string{"iam.serviceAccountKeys.*", "iam.serviceAccounts.get", "iam.serviceAccounts.list"}},

	"roles/compute.instanceAdmin.v1": {Patterns: []string{"compute.instances.*", "compute.disks.*", "compute.snapshots.*", "compute.zoneOperations.*", "compute.globalOperations.*", "compute.projects.get"}},
	"roles/compute.viewer":           {Patterns: []string{"compute.*"}, Except: writeVerbs},
	"roles/compute.securityAdmin":    {Patterns: []string{"compute.firewalls.*", "compute.networks.updatePolicy", "compute.globalOperations.get"}},

	"roles/datastore.user":  {Patterns: []string{"datastore.entities.*", "datastore.databases.get", "datastore.databases.getMetadata", "datastore.indexes.list", "datastore.namespaces.get", "datastore.namespaces.list", "datastore.statistics.get", "datastore.statistics.list"}},
	"roles/datastore.owner": {Patterns: []string{"datastore.*"}},

	// Creating projects under a folder and linking them to a billing
	// account (https://cloud.google.com/iam/docs/roles-permissions/resourcemanager,
	// https://cloud.google.com/iam/docs/roles-permissions/billing).
	"roles/resourcemanager.projectCreator":  {Patterns: []string{"resourcemanager.projects.create"}},
	"roles/billing.user":                    {Patterns: []string{"billing.resourceAssociations.create", "billing.accounts.get", "billing.accounts.getIamPolicy", "billing.accounts.list"}},
	"roles/iam.roleAdmin":                   {Patterns: []string{"iam.roles.*"}},
	"roles/resourcemanager.projectIamAdmin": {Patterns: []string{"resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"}},
	"roles/billing.projectManager":          {Patterns: []string{"resourcemanager.projects.createBillingAssignment", "resourcemanager.projects.deleteBillingAssignment"}},

	"roles/run.invoker": {Patterns: []string{"run.routes.invoke"}},
	"roles/run.viewer":  {Patterns: []string{"run.services.get", "run.services.list", "run.services.getIamPolicy"}},
}

// writeVerbs are the permission verbs a viewer role never holds.
var writeVerbs = []string{"*.create", "*.update", "*.delete", "*.setIamPolicy", "*.setMetadata", "*.setLabels", "*.setTags", "*.start", "*.stop", "*.createSnapshot", "*.setCommonInstanceMetadata", "*.patch", "*.setPrivateIpGoogleAccess", "*.switchToCustomMode", "*.updatePolicy", "*.use", "*.useReadOnly", "*.setServiceAccount", "*.getGuestAttributes", "*.deleteAccessConfig", "*.updateShieldedInstanceConfig"}
