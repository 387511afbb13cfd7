// Package deploy holds the Go side of coopguard's deploy scripts: the IAM
// permission each GCP client method needs, a scanner that finds every client
// call in the repository's source, the dry-run command collector, and the
// Go functions buildpack's main generation — all used by the tests that
// keep deploy/*.sh and deploy/roles/*.yaml honest.
package deploy

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
)

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
// polls (op.Wait) with the get permission of its scope.
const (
	zoneOp   = "compute.zoneOperations.get"
	regionOp = "compute.regionOperations.get"
	globalOp = "compute.globalOperations.get"
)

// Methods maps "<gcp.Clients field>.<method>" (for Pub/Sub also
// "PubSub.TopicAdminClient.<method>", "PubSub.Publisher.<method>", …) to
// what it needs. Sources: the Compute Engine, Secret Manager, Cloud
// Monitoring, Cloud Logging and Pub/Sub "IAM permissions" references
// (https://cloud.google.com/iam/docs/permissions-reference). A method the
// code calls that is missing here fails deploy/iam_test.go: add it.
var Methods = map[string]Need{
	// Compute Engine: instances.
	"Instances.Get":                {Perms: []string{"compute.instances.get"}},
	"Instances.List":               {Perms: []string{"compute.instances.list"}},
	"Instances.AggregatedList":     {Perms: []string{"compute.instances.list"}},
	"Instances.GetGuestAttributes": {Perms: []string{"compute.instances.getGuestAttributes"}},
	"Instances.Insert": {Perms: []string{
		"compute.instances.create", "compute.disks.create", "compute.subnetworks.use",
		"compute.instances.setMetadata", "compute.instances.setLabels", "compute.instances.setTags",
		"compute.instances.setServiceAccount", zoneOp,
	}, Grant: GrantActAs},
	// Compute Engine: zonal operations, looked up by requestId and
	// waited for when a retry resumes a change an attempt started.
	"ZoneOperations.List":   {Perms: []string{"compute.zoneOperations.list"}},
	"ZoneOperations.Wait":   {Perms: []string{zoneOp}},
	"Instances.Stop":        {Perms: []string{"compute.instances.stop", zoneOp}},
	"Instances.Start":       {Perms: []string{"compute.instances.start", zoneOp}},
	"Instances.Delete":      {Perms: []string{"compute.instances.delete", zoneOp}},
	"Instances.SetMetadata": {Perms: []string{"compute.instances.setMetadata", zoneOp}, Grant: GrantActAs},
	"Instances.SetLabels":   {Perms: []string{"compute.instances.setLabels", zoneOp}},
	"Instances.SetTags":     {Perms: []string{"compute.instances.setTags", zoneOp}},

	// Compute Engine: disks and snapshots.
	"Disks.Get":            {Perms: []string{"compute.disks.get"}},
	"Disks.List":           {Perms: []string{"compute.disks.list"}},
	"Disks.CreateSnapshot": {Perms: []string{"compute.disks.createSnapshot", "compute.snapshots.create", "compute.snapshots.setLabels", zoneOp}},
	"Disks.SetLabels":      {Perms: []string{"compute.disks.setLabels", zoneOp}},
	"Snapshots.Get":        {Perms: []string{"compute.snapshots.get"}},
	"Snapshots.List":       {Perms: []string{"compute.snapshots.list"}},
	"Snapshots.Insert":     {Perms: []string{"compute.snapshots.create", "compute.disks.useReadOnly", globalOp}},
	"Snapshots.SetLabels":  {Perms: []string{"compute.snapshots.setLabels", globalOp}},
	"Snapshots.Delete":     {Perms: []string{"compute.snapshots.delete", globalOp}},

	// Compute Engine: network.
	"Networks.Get":                         {Perms: []string{"compute.networks.get"}},
	"Networks.Insert":                      {Perms: []string{"compute.networks.create", globalOp}},
	"Networks.Patch":                       {Perms: []string{"compute.networks.update", globalOp}},
	"Networks.SwitchToCustomMode":          {Perms: []string{"compute.networks.switchToCustomMode", globalOp}},
	"Subnetworks.Get":                      {Perms: []string{"compute.subnetworks.get"}},
	"Subnetworks.Insert":                   {Perms: []string{"compute.subnetworks.create", regionOp}},
	"Subnetworks.Patch":                    {Perms: []string{"compute.subnetworks.update", regionOp}},
	"Subnetworks.SetPrivateIpGoogleAccess": {Perms: []string{"compute.subnetworks.setPrivateIpGoogleAccess", regionOp}},
	"Firewalls.Get":                        {Perms: []string{"compute.firewalls.get"}},
	"Firewalls.List":                       {Perms: []string{"compute.firewalls.list"}},
	"Firewalls.Insert":                     {Perms: []string{"compute.firewalls.create", "compute.networks.updatePolicy", globalOp}},
	"Firewalls.Update":                     {Perms: []string{"compute.firewalls.update", "compute.networks.updatePolicy", globalOp}},
	"Firewalls.Patch":                      {Perms: []string{"compute.firewalls.update", "compute.networks.updatePolicy", globalOp}},
	"Routers.Get":                          {Perms: []string{"compute.routers.get"}},
	"Routers.List":                         {Perms: []string{"compute.routers.list"}},
	"Routers.Insert":                       {Perms: []string{"compute.routers.create", regionOp}},
	"Routers.Patch":                        {Perms: []string{"compute.routers.update", regionOp}},
	"Routers.Update":                       {Perms: []string{"compute.routers.update", regionOp}},

	// Secret Manager.
	"Secrets.GetSecret":            {Perms: []string{"secretmanager.secrets.get"}},
	"Secrets.ListSecrets":          {Perms: []string{"secretmanager.secrets.list"}},
	"Secrets.CreateSecret":         {Perms: []string{"secretmanager.secrets.create"}},
	"Secrets.UpdateSecret":         {Perms: []string{"secretmanager.secrets.update"}},
	"Secrets.DeleteSecret":         {Perms: []string{"secretmanager.secrets.delete"}},
	"Secrets.ListSecretVersions":   {Perms: []string{"secretmanager.versions.list"}},
	"Secrets.GetSecretVersion":     {Perms: []string{"secretmanager.versions.get"}},
	"Secrets.DisableSecretVersion": {Perms: []string{"secretmanager.versions.disable"}},
	"Secrets.EnableSecretVersion":  {Perms: []string{"secretmanager.versions.enable"}},
	"Secrets.DestroySecretVersion": {Perms: []string{"secretmanager.versions.destroy"}},
	"Secrets.AddSecretVersion":     {Perms: []string{"secretmanager.versions.add"}, KeySource: true},
	// A secret's own IAM policy: Provision grants the sandbox's account
	// access on its secrets, never on the project.
	"Secrets.GetIamPolicy": {Perms: []string{"secretmanager.secrets.getIamPolicy"}},
	"Secrets.SetIamPolicy": {Perms: []string{"secretmanager.secrets.setIamPolicy"}},
	// Only a credential (the key source's, the revocation provider's) is
	// ever read, never a managed secret: a grant on that one secret, no
	// role permission.
	"Secrets.AccessSecretVersion": {Grant: GrantCredential},

	// Cloud Monitoring.
	"AlertPolicies.ListAlertPolicies":          {Perms: []string{"monitoring.alertPolicies.list"}},
	"AlertPolicies.GetAlertPolicy":             {Perms: []string{"monitoring.alertPolicies.get"}},
	"AlertPolicies.CreateAlertPolicy":          {Perms: []string{"monitoring.alertPolicies.create"}},
	"AlertPolicies.UpdateAlertPolicy":          {Perms: []string{"monitoring.alertPolicies.update"}},
	"AlertPolicies.DeleteAlertPolicy":          {Perms: []string{"monitoring.alertPolicies.delete"}},
	"Channels.ListNotificationChannels":        {Perms: []string{"monitoring.notificationChannels.list"}},
	"Channels.GetNotificationChannel":          {Perms: []string{"monitoring.notificationChannels.get"}},
	"Channels.CreateNotificationChannel":       {Perms: []string{"monitoring.notificationChannels.create"}},
	"Channels.UpdateNotificationChannel":       {Perms: []string{"monitoring.notificationChannels.update"}},
	"Channels.DeleteNotificationChannel":       {Perms: []string{"monitoring.notificationChannels.delete"}},
	"Metrics.CreateTimeSeries":                 {Perms: []string{"monitoring.timeSeries.create"}},
	"Metrics.ListTimeSeries":                   {Perms: []string{"monitoring.timeSeries.list"}},
	"Metrics.CreateMetricDescriptor":           {Perms: []string{"monitoring.metricDescriptors.create"}},
	"Metrics.GetMetricDescriptor":              {Perms: []string{"monitoring.metricDescriptors.get"}},
	"Metrics.ListMetricDescriptors":            {Perms: []string{"monitoring.metricDescriptors.list"}},
	"Metrics.ListMonitoredResourceDescriptors": {Perms: []string{"monitoring.monitoredResourceDescriptors.list"}},

	// Cloud Logging.
	"Logging.WriteLogEntries": {Perms: []string{"logging.logEntries.create"}},
	// Reading Data Access audit logs (the sandbox account's secret reads
	// in an incident's evidence) needs the private-log permission too
	// (https://cloud.google.com/logging/docs/access-control,
	// roles/logging.privateLogViewer).
	"Logging.ListLogEntries": {Perms: []string{"logging.logEntries.list", "logging.privateLogEntries.list"}},
	"Logging.TailLogEntries": {Perms: []string{"logging.logEntries.list"}},
	"LogConfig.GetSink":      {Perms: []string{"logging.sinks.get"}},
	"LogConfig.ListSinks":    {Perms: []string{"logging.sinks.list"}},
	"LogConfig.CreateSink":   {Perms: []string{"logging.sinks.create"}},
	"LogConfig.UpdateSink":   {Perms: []string{"logging.sinks.update"}},
	"LogConfig.DeleteSink":   {Perms: []string{"logging.sinks.delete"}},

	// Resource Manager and Cloud Run (posture checks read them).
	"Projects.GetIamPolicy": {Perms: []string{"resourcemanager.projects.getIamPolicy"}},
	"Projects.GetProject":   {Perms: []string{"resourcemanager.projects.get"}},
	// Provision turns on Data Access audit logs (the policy's auditConfigs
	// only, under an etag); changing audit configs needs setIamPolicy.
	"Projects.SetIamPolicy": {Perms: []string{"resourcemanager.projects.setIamPolicy"}},
	"Services.ListServices": {Perms: []string{"run.services.list"}},
	"Services.GetService":   {Perms: []string{"run.services.get"}},
	"Services.GetIamPolicy": {Perms: []string{"run.services.getIamPolicy"}},

	// Service Usage and Artifact Registry: posture's image-scanning check.
	"ServiceUsage.GetService":       {Perms: []string{"serviceusage.services.get"}},
	"Repositories.ListRepositories": {Perms: []string{"artifactregistry.repositories.list"}},

	// IAM: posture reads the permissions of a custom role bound to the
	// sandbox's account.
	"IAMAdmin.GetRole": {Perms: []string{"iam.roles.get"}},
	// Provision makes a sandbox's own account (one per sandbox) and lets
	// the provisioner and responder act as it, on that account's policy.
	"IAMAdmin.GetServiceAccount":    {Perms: []string{"iam.serviceAccounts.get"}},
	"IAMAdmin.CreateServiceAccount": {Perms: []string{"iam.serviceAccounts.create"}},
	"IAMAdmin.GetIamPolicy":         {Perms: []string{"iam.serviceAccounts.getIamPolicy"}},
	"IAMAdmin.SetIamPolicy":         {Perms: []string{"iam.serviceAccounts.setIamPolicy"}},
	// Containment disables the sandbox's account (GCP then rejects its
	// existing tokens) and deletes its user-managed keys; restore enables
	// it again (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/disable).
	"IAMAdmin.DisableServiceAccount":   {Perms: []string{"iam.serviceAccounts.disable"}},
	"IAMAdmin.EnableServiceAccount":    {Perms: []string{"iam.serviceAccounts.enable"}},
	"IAMAdmin.ListServiceAccountKeys":  {Perms: []string{"iam.serviceAccountKeys.list"}},
	"IAMAdmin.DeleteServiceAccountKey": {Perms: []string{"iam.serviceAccountKeys.delete"}},

	// Pub/Sub.
	"PubSub.TopicAdminClient.GetTopic":                  {Perms: []string{"pubsub.topics.get"}},
	"PubSub.TopicAdminClient.ListTopics":                {Perms: []string{"pubsub.topics.list"}},
	"PubSub.TopicAdminClient.CreateTopic":               {Perms: []string{"pubsub.topics.create"}},
	"PubSub.TopicAdminClient.UpdateTopic":               {Perms: []string{"pubsub.topics.update"}},
	"PubSub.TopicAdminClient.DeleteTopic":               {Perms: []string{"pubsub.topics.delete"}},
	"PubSub.SubscriptionAdminClient.GetSubscription":    {Perms: []string{"pubsub.subscriptions.get"}},
	"PubSub.SubscriptionAdminClient.ListSubscriptions":  {Perms: []string{"pubsub.subscriptions.list"}},
	"PubSub.SubscriptionAdminClient.CreateSubscription": {Perms: []string{"pubsub.subscriptions.create", "pubsub.topics.attachSubscription"}},
	"PubSub.SubscriptionAdminClient.DeleteSubscription": {Perms: []string{"pubsub.subscriptions.delete"}},
	"PubSub.Publisher.Publish":                          {Perms: []string{"pubsub.topics.publish"}},
	"PubSub.Subscriber.Receive":                         {Perms: []string{"pubsub.subscriptions.consume"}},
}

// Local methods call no API: no permission.
var localMethods = map[string]bool{
	"Close": true, "Connection": true, "Stop": true, "Flush": true, "Wait": true,
	"EnableMessageOrdering": true, "ResumePublish": true, "Publisher": true, "Subscriber": true,
}

// Lookup returns what the method key ("Instances.Stop") needs; ok is false
// for a method missing from Methods. Local methods (Close, a publisher's
// Stop, …) need nothing.
func Lookup(key string) (Need, bool) {
	if n, ok := Methods[key]; ok {
		return n, true
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
