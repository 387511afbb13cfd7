// Package deploy holds the Go side of coopguard's deploy scripts: the IAM
// permission each GCP client method needs (from the emulator's table of
// RPCs), a scanner that finds every client
// call in the repository's source, the dry-run command collector, and the
// Go functions buildpack's main generation — all used by the tests that
// keep deploy/*.sh and deploy/roles/*.yaml honest.
package deploy

import (
	"slices"
	"strings"

	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// Need is what one client method needs from IAM.
type Need struct {
	// Perms are project-level permissions: they go in the calling
	// function's custom role (deploy/roles/).
	Perms []string
	// KeySource marks methods only rotation with a key source uses (adding
	// a secret version): their Perms go in the job's key-source role
	// (rotator-keysource), bound only when a key source is configured, and
	// only on the managed secrets.
	KeySource bool
	// Grant is a resource-level grant deploy makes instead of (or besides)
	// a role permission; see Grants.
	Grant string
}

// Resource-level grants deploy/deploy.sh makes, to each job whose calls
// need them.
const (
	// GrantActAs: roles/iam.serviceAccountUser on the sandbox VM's service
	// account (iam.serviceAccounts.actAs), and on no other account: the
	// provisioner creates a VM running as it, and changing the metadata
	// of a VM that runs as a service account (the agents flag, set by the
	// responder and cleared by the restorer) acts as it
	// (https://cloud.google.com/compute/docs/access/iam#the_serviceaccountuser_role).
	GrantActAs = "actas"
	// GrantCredential: roles/secretmanager.secretAccessor on the one
	// credential secret the job reads — the key source's for the rotator,
	// the revocation provider's for the responder — and no managed secret.
	GrantCredential = "credential"
	// GrantFleet: with [coopguard.fleet] set, the provisioner's roles on
	// the fleet's folder (roles/resourcemanager.projectCreator, and
	// roles/iam.roleAdmin and roles/resourcemanager.projectIamAdmin for
	// the projects under it) and roles/billing.user on its billing
	// account: creating a sandbox's project and linking its billing are
	// checked there, never in coopguard's project.
	GrantFleet = "fleet"
)

// fleetScoped are the permissions checked on the fleet's folder, its
// billing account, or a project the provisioner created (and owns): deploy
// grants them there (GrantFleet), not in a role on coopguard's project.
var fleetScoped = map[string]bool{
	"resourcemanager.projects.create":                  true,
	"resourcemanager.projects.createBillingAssignment": true,
	"billing.resourceAssociations.create":              true,
}

// sandboxScoped are the permissions IAM checks on the sandbox's own VM or
// boot disk (resource.name of the instance or disk): a job's calls that
// need them go to its sandbox role, bound only on the sandboxes. Reads
// (get, list) stay project-wide: Status and the responder list the
// labelled VMs; a snapshot's creation is checked on the new snapshot, so
// compute.snapshots.create stays project-wide too.
var sandboxScoped = map[string]bool{
	"compute.instances.stop":               true,
	"compute.instances.start":              true,
	"compute.instances.setTags":            true,
	"compute.instances.setLabels":          true,
	"compute.instances.setMetadata":        true,
	"compute.instances.getGuestAttributes": true,
	"compute.disks.createSnapshot":         true,
}

// identityScoped are the permissions IAM checks on the sandbox's own
// service account: a job's calls that need them go to its identity role,
// which deploy and Provision bind on that account's policy only (the
// responder disables it and deletes its user-managed keys at containment;
// the restorer enables it again), never on the project
// (https://cloud.google.com/iam/docs/manage-access-service-accounts).
var identityScoped = map[string]bool{
	"iam.serviceAccounts.get":       true,
	"iam.serviceAccounts.disable":   true,
	"iam.serviceAccounts.enable":    true,
	"iam.serviceAccountKeys.list":   true,
	"iam.serviceAccountKeys.delete": true,
}

// Operation polling: a Compute mutation returns an operation the client
// polls (op.Wait) with the get permission of its scope, by collection.
var opScope = map[string]string{
	"instances": "compute.zoneOperations.get", "disks": "compute.zoneOperations.get",
	"subnetworks": "compute.regionOperations.get", "routers": "compute.regionOperations.get",
	"networks": "compute.globalOperations.get", "firewalls": "compute.globalOperations.get",
	"snapshots": "compute.globalOperations.get", "routes": "compute.globalOperations.get",
	"images": "compute.globalOperations.get",
}

// services maps a gcp.Clients field to the gRPC service it calls (its rows
// in the emulator's table, audit.GRPC); the Compute fields call the REST
// methods compute.<collection>.<method> (audit.REST).
var services = map[string]string{
	"Secrets":                        "google.cloud.secretmanager.v1.SecretManagerService",
	"AlertPolicies":                  "google.monitoring.v3.AlertPolicyService",
	"Channels":                       "google.monitoring.v3.NotificationChannelService",
	"Metrics":                        "google.monitoring.v3.MetricService",
	"Logging":                        "google.logging.v2.LoggingServiceV2",
	"LogConfig":                      "google.logging.v2.ConfigServiceV2",
	"Projects":                       "google.cloud.resourcemanager.v3.Projects",
	"Services":                       "google.cloud.run.v2.Services",
	"ServiceUsage":                   "google.api.serviceusage.v1.ServiceUsage",
	"Folders":                        "google.cloud.resourcemanager.v3.Folders",
	"Billing":                        "google.cloud.billing.v1.CloudBilling",
	"Repositories":                   "google.devtools.artifactregistry.v1.ArtifactRegistry",
	"IAMAdmin":                       "google.iam.admin.v1.IAM",
	"PubSub.TopicAdminClient":        "google.pubsub.v1.Publisher",
	"PubSub.Publisher":               "google.pubsub.v1.Publisher",
	"PubSub.SubscriptionAdminClient": "google.pubsub.v1.Subscriber",
	"PubSub.Subscriber":              "google.pubsub.v1.Subscriber",
	"Budgets":                        "google.cloud.billing.budgets.v1.BudgetService",
}

// computeKinds are the gcp.Clients fields of Compute Engine.
var computeKinds = []string{"Instances", "Disks", "Snapshots", "Networks", "Subnetworks", "Firewalls", "Routers", "ZoneOperations", "Routes", "Images"}

// rpcOf maps a client method to its RPC: a Subscriber receives by
// streaming pull.
var rpcOf = map[string]string{"PubSub.Subscriber.Receive": "StreamingPull"}

// row is the emulator's table row of a client method key.
func row(key string) (audit.Row, bool) {
	i := strings.LastIndex(key, ".")
	if i < 0 {
		return audit.Row{}, false
	}
	kind, method := key[:i], key[i+1:]
	if m, ok := rpcOf[key]; ok {
		method = m
	}
	if svc, ok := services[kind]; ok {
		full := "/" + svc + "/" + method
		if r, ok := audit.GRPC[full]; ok {
			return r, true
		}
		r, ok := audit.PubSub[full]
		return r, ok
	}
	if slices.Contains(computeKinds, kind) {
		r, ok := audit.REST["compute."+lowerFirst(kind)+"."+lowerFirst(method)]
		return r, ok
	}
	return audit.Row{}, false
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// need is what a row requires of deploy: its permissions (and the partial
// ones), a Compute mutation's operation polling, and deploy's grants in
// place of a role permission: actAs on the sandbox's account, a
// credential's one secret (only a credential is ever read, never a managed
// secret), a key source's adding of versions in its own role.
func need(r audit.Row) Need {
	var n Need
	for _, p := range append(slices.Clone(r.Perms), r.Partial...) {
		switch p {
		case "secretmanager.versions.access":
			n.Grant = GrantCredential
			continue
		case "secretmanager.versions.add":
			n.KeySource = true
		}
		if fleetScoped[p] {
			n.Grant = GrantFleet
			continue
		}
		n.Perms = append(n.Perms, p)
	}
	if r.Service == "compute.googleapis.com" && r.Type == audit.AdminWrite {
		coll := strings.Split(strings.TrimPrefix(r.Method, "v1.compute."), ".")[0]
		if op, ok := opScope[coll]; ok {
			n.Perms = append(n.Perms, op)
		}
	}
	if r.ActAs {
		n.Grant = GrantActAs
	}
	return n
}

// Local methods call no API: no permission.
var localMethods = map[string]bool{
	"Close": true, "Connection": true, "Stop": true, "Flush": true, "Wait": true,
	"EnableMessageOrdering": true, "ResumePublish": true, "Publisher": true, "Subscriber": true,
}

// Lookup returns what the method key ("Instances.Stop") needs, from the
// emulator's table of RPCs (test/emulator/audit); ok is false for a method
// missing there. Local methods (Close, a publisher's Stop, …) need nothing.
func Lookup(key string) (Need, bool) {
	if r, ok := row(key); ok {
		return need(r), true
	}
	i := len(key) - 1
	for i >= 0 && key[i] != '.' {
		i--
	}
	kind, method := key[:max(i, 0)], key[i+1:]
	if localMethods[method] && (method != "Stop" || kind == "PubSub.Publisher") {
		return Need{}, true
	}
	return Need{}, false
}
