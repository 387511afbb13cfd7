// Package audit applies the emulated GCP's one table of RPCs to every fake:
// it authenticates the caller (iam.PrincipalFromAuthorization), checks the
// permissions GCP requires with the emulated IAM, refuses with GCP's error
// shape, and writes the Cloud Audit Logs entry GCP would — Admin Activity
// always, Data Access when the project's audit config enables its type. A
// gRPC interceptor serves the gRPC fakes and an HTTP middleware the Compute
// REST fake.
package audit

// LogType is the permission type of a method, which decides its audit log
// (https://cloud.google.com/logging/docs/audit#types).
type LogType string

// The permission types; NotAudited methods write no entry.
const (
	AdminWrite LogType = "ADMIN_WRITE"
	AdminRead  LogType = "ADMIN_READ"
	DataRead   LogType = "DATA_READ"
	DataWrite  LogType = "DATA_WRITE"
	NotAudited LogType = ""
)

// Row is one RPC: what GCP requires of the caller and what it audits.
type Row struct {
	// Service is the API's service name, e.g. "secretmanager.googleapis.com".
	Service string
	// Method is the audit entry's methodName as GCP writes it.
	Method string
	// Perms are the IAM permissions checked on the call's resource.
	Perms []string
	// Type is the permission type, which picks the audit log.
	Type LogType
	// Resource names the field paths of the request holding the resource
	// name (first non-empty wins); Suffix, when set, is a field whose
	// value is appended as ".../<SuffixColl>/<value>" (create calls).
	Resource   []string
	SuffixColl string
	Suffix     string
	// ByNumber marks services whose audit resourceName carries the project
	// number even when the request used the id (Secret Manager).
	ByNumber bool
	// ActAs marks Compute methods that also need iam.serviceAccounts.actAs
	// on the account the instance runs as (or will run as).
	ActAs bool
	// Partial are permissions the service checks for part of the answer
	// only (ListLogEntries returns Data Access entries only to a caller
	// with logging.privateLogEntries.list): a caller needs them for the
	// whole of it.
	Partial []string
	// PermOn names, for a permission the service checks on another
	// resource than the call's, the request field holding that resource
	// (CreateSubscription checks pubsub.topics.attachSubscription on the
	// topic): the check, and its authorizationInfo row, use it.
	PermOn map[string]string
}

const (
	secretsSvc    = "secretmanager.googleapis.com"
	monitoringSvc = "monitoring.googleapis.com"
	loggingSvc    = "logging.googleapis.com"
	crmSvc        = "cloudresourcemanager.googleapis.com"
	runSvc        = "run.googleapis.com"
	iamSvc        = "iam.googleapis.com"
	computeSvc    = "compute.googleapis.com"
	usageSvc      = "serviceusage.googleapis.com"
	arSvc         = "artifactregistry.googleapis.com"
	billingSvc    = "cloudbilling.googleapis.com"
)

// sm builds a Secret Manager row. Permission types:
// https://cloud.google.com/secret-manager/docs/audit-logging; permissions:
// https://cloud.google.com/secret-manager/docs/access-control.
func sm(method string, t LogType, perm string) Row {
	return Row{Service: secretsSvc, Method: "google.cloud.secretmanager.v1.SecretManagerService." + method, Perms: []string{perm}, Type: t, Resource: []string{"name", "resource", "parent"}, ByNumber: true}
}

// mon builds a Cloud Monitoring row
// (https://cloud.google.com/monitoring/audit-logging).
func mon(svc, method string, t LogType, perm string, res ...string) Row {
	if len(res) == 0 {
		res = []string{"name"}
	}
	return Row{Service: monitoringSvc, Method: "google.monitoring.v3." + svc + "." + method, Perms: []string{perm}, Type: t, Resource: res}
}

// lg builds a Cloud Logging row (https://cloud.google.com/logging/docs/audit-logging).
func lg(svc, method string, t LogType, perm string, res ...string) Row {
	return Row{Service: loggingSvc, Method: "google.logging.v2." + svc + "." + method, Perms: []string{perm}, Type: t, Resource: res}
}

// GRPC is the table of gRPC methods the fakes serve, keyed by full method
// name ("/package.Service/Method"). A method missing here is refused: the
// emulator never serves a call it cannot authorise and audit.
var GRPC = map[string]Row{
	"/google.cloud.secretmanager.v1.SecretManagerService/CreateSecret":         withSuffix(sm("CreateSecret", AdminWrite, "secretmanager.secrets.create"), "secrets", "secret_id"),
	"/google.cloud.secretmanager.v1.SecretManagerService/GetSecret":            sm("GetSecret", AdminRead, "secretmanager.secrets.get"),
	"/google.cloud.secretmanager.v1.SecretManagerService/ListSecrets":          sm("ListSecrets", AdminRead, "secretmanager.secrets.list"),
	"/google.cloud.secretmanager.v1.SecretManagerService/UpdateSecret":         withResource(sm("UpdateSecret", AdminWrite, "secretmanager.secrets.update"), "secret.name"),
	"/google.cloud.secretmanager.v1.SecretManagerService/DeleteSecret":         sm("DeleteSecret", AdminWrite, "secretmanager.secrets.delete"),
	"/google.cloud.secretmanager.v1.SecretManagerService/AddSecretVersion":     sm("AddSecretVersion", AdminWrite, "secretmanager.versions.add"),
	"/google.cloud.secretmanager.v1.SecretManagerService/GetSecretVersion":     sm("GetSecretVersion", AdminRead, "secretmanager.versions.get"),
	"/google.cloud.secretmanager.v1.SecretManagerService/ListSecretVersions":   sm("ListSecretVersions", AdminRead, "secretmanager.versions.list"),
	"/google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion":  sm("AccessSecretVersion", DataRead, "secretmanager.versions.access"),
	"/google.cloud.secretmanager.v1.SecretManagerService/EnableSecretVersion":  sm("EnableSecretVersion", AdminWrite, "secretmanager.versions.enable"),
	"/google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion": sm("DisableSecretVersion", AdminWrite, "secretmanager.versions.disable"),
	"/google.cloud.secretmanager.v1.SecretManagerService/DestroySecretVersion": sm("DestroySecretVersion", AdminWrite, "secretmanager.versions.destroy"),
	"/google.cloud.secretmanager.v1.SecretManagerService/GetIamPolicy":         sm("GetIamPolicy", AdminRead, "secretmanager.secrets.getIamPolicy"),
	"/google.cloud.secretmanager.v1.SecretManagerService/SetIamPolicy":         sm("SetIamPolicy", AdminWrite, "secretmanager.secrets.setIamPolicy"),
	"/google.cloud.secretmanager.v1.SecretManagerService/TestIamPermissions":   {Service: secretsSvc, Method: "google.cloud.secretmanager.v1.SecretManagerService.TestIamPermissions", Type: NotAudited, Resource: []string{"resource"}},

	"/google.monitoring.v3.AlertPolicyService/CreateAlertPolicy":                          mon("AlertPolicyService", "CreateAlertPolicy", AdminWrite, "monitoring.alertPolicies.create"),
	"/google.monitoring.v3.AlertPolicyService/GetAlertPolicy":                             mon("AlertPolicyService", "GetAlertPolicy", AdminRead, "monitoring.alertPolicies.get"),
	"/google.monitoring.v3.AlertPolicyService/ListAlertPolicies":                          mon("AlertPolicyService", "ListAlertPolicies", AdminRead, "monitoring.alertPolicies.list"),
	"/google.monitoring.v3.AlertPolicyService/UpdateAlertPolicy":                          mon("AlertPolicyService", "UpdateAlertPolicy", AdminWrite, "monitoring.alertPolicies.update", "alert_policy.name"),
	"/google.monitoring.v3.AlertPolicyService/DeleteAlertPolicy":                          mon("AlertPolicyService", "DeleteAlertPolicy", AdminWrite, "monitoring.alertPolicies.delete"),
	"/google.monitoring.v3.NotificationChannelService/ListNotificationChannelDescriptors": mon("NotificationChannelService", "ListNotificationChannelDescriptors", AdminRead, "monitoring.notificationChannelDescriptors.list"),
	"/google.monitoring.v3.NotificationChannelService/CreateNotificationChannel":          mon("NotificationChannelService", "CreateNotificationChannel", AdminWrite, "monitoring.notificationChannels.create"),
	"/google.monitoring.v3.NotificationChannelService/GetNotificationChannel":             mon("NotificationChannelService", "GetNotificationChannel", AdminRead, "monitoring.notificationChannels.get"),
	"/google.monitoring.v3.NotificationChannelService/ListNotificationChannels":           mon("NotificationChannelService", "ListNotificationChannels", AdminRead, "monitoring.notificationChannels.list"),
	"/google.monitoring.v3.NotificationChannelService/UpdateNotificationChannel":          mon("NotificationChannelService", "UpdateNotificationChannel", AdminWrite, "monitoring.notificationChannels.update", "notification_channel.name"),
	"/google.monitoring.v3.NotificationChannelService/DeleteNotificationChannel":          mon("NotificationChannelService", "DeleteNotificationChannel", AdminWrite, "monitoring.notificationChannels.delete"),
	"/google.monitoring.v3.MetricService/CreateMetricDescriptor":                          mon("MetricService", "CreateMetricDescriptor", AdminWrite, "monitoring.metricDescriptors.create"),
	"/google.monitoring.v3.MetricService/GetMetricDescriptor":                             mon("MetricService", "GetMetricDescriptor", AdminRead, "monitoring.metricDescriptors.get"),
	"/google.monitoring.v3.MetricService/DeleteMetricDescriptor":                          mon("MetricService", "DeleteMetricDescriptor", AdminWrite, "monitoring.metricDescriptors.delete"),
	"/google.monitoring.v3.MetricService/ListMetricDescriptors":                           mon("MetricService", "ListMetricDescriptors", AdminRead, "monitoring.metricDescriptors.list"),
	// Writing and reading time series are data, not configuration.
	"/google.monitoring.v3.MetricService/CreateTimeSeries": mon("MetricService", "CreateTimeSeries", NotAudited, "monitoring.timeSeries.create"),
	"/google.monitoring.v3.MetricService/ListTimeSeries":   mon("MetricService", "ListTimeSeries", DataRead, "monitoring.timeSeries.list"),

	// Writing log entries is not audited (it would audit itself).
	"/google.logging.v2.LoggingServiceV2/WriteLogEntries": lg("LoggingServiceV2", "WriteLogEntries", NotAudited, "logging.logEntries.create", "log_name", "entries.0.log_name"),
	"/google.logging.v2.LoggingServiceV2/ListLogEntries":  withPartial(lg("LoggingServiceV2", "ListLogEntries", DataRead, "logging.logEntries.list", "resource_names.0"), "logging.privateLogEntries.list"),
	"/google.logging.v2.LoggingServiceV2/DeleteLog":       lg("LoggingServiceV2", "DeleteLog", AdminWrite, "logging.logs.delete", "log_name"),
	"/google.logging.v2.ConfigServiceV2/CreateSink":       withSuffix(lg("ConfigServiceV2", "CreateSink", AdminWrite, "logging.sinks.create", "parent"), "sinks", "sink.name"),
	"/google.logging.v2.ConfigServiceV2/GetSink":          lg("ConfigServiceV2", "GetSink", AdminRead, "logging.sinks.get", "sink_name"),
	"/google.logging.v2.ConfigServiceV2/ListSinks":        lg("ConfigServiceV2", "ListSinks", AdminRead, "logging.sinks.list", "parent"),
	"/google.logging.v2.ConfigServiceV2/UpdateSink":       lg("ConfigServiceV2", "UpdateSink", AdminWrite, "logging.sinks.update", "sink_name"),
	"/google.logging.v2.ConfigServiceV2/DeleteSink":       lg("ConfigServiceV2", "DeleteSink", AdminWrite, "logging.sinks.delete", "sink_name"),

	// Resource Manager writes its own short method names
	// (https://cloud.google.com/resource-manager/docs/audit-logging).
	"/google.cloud.resourcemanager.v3.Projects/GetProject":         {Service: crmSvc, Method: "GetProject", Perms: []string{"resourcemanager.projects.get"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.cloud.resourcemanager.v3.Projects/GetIamPolicy":       {Service: crmSvc, Method: "GetIamPolicy", Perms: []string{"resourcemanager.projects.getIamPolicy"}, Type: AdminRead, Resource: []string{"resource"}},
	"/google.cloud.resourcemanager.v3.Projects/SetIamPolicy":       {Service: crmSvc, Method: "SetIamPolicy", Perms: []string{"resourcemanager.projects.setIamPolicy"}, Type: AdminWrite, Resource: []string{"resource"}},
	"/google.cloud.resourcemanager.v3.Projects/TestIamPermissions": {Service: crmSvc, Method: "TestIamPermissions", Type: NotAudited, Resource: []string{"resource"}},
	// Creating a project checks resourcemanager.projects.create on the
	// parent (CreateProjectRequest.project reference); folders need
	// resourcemanager.folders.get, getIamPolicy, setIamPolicy
	// (https://cloud.google.com/resource-manager/docs/access-control-folders).
	"/google.cloud.resourcemanager.v3.Projects/CreateProject": {Service: crmSvc, Method: "CreateProject", Perms: []string{"resourcemanager.projects.create"}, Type: AdminWrite, Resource: []string{"project.parent"}},
	"/google.cloud.resourcemanager.v3.Folders/GetFolder":      {Service: crmSvc, Method: "GetFolder", Perms: []string{"resourcemanager.folders.get"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.cloud.resourcemanager.v3.Folders/GetIamPolicy":   {Service: crmSvc, Method: "GetIamPolicy", Perms: []string{"resourcemanager.folders.getIamPolicy"}, Type: AdminRead, Resource: []string{"resource"}},
	"/google.cloud.resourcemanager.v3.Folders/SetIamPolicy":   {Service: crmSvc, Method: "SetIamPolicy", Perms: []string{"resourcemanager.folders.setIamPolicy"}, Type: AdminWrite, Resource: []string{"resource"}},
	// Moving a project (https://cloud.google.com/resource-manager/docs/project-migration#permissions).
	"/google.cloud.resourcemanager.v3.Projects/MoveProject": {Service: crmSvc, Method: "MoveProject", Perms: []string{"resourcemanager.projects.move"}, Type: AdminWrite, Resource: []string{"name"}},

	// Cloud Billing (https://cloud.google.com/billing/docs/how-to/modify-project#required-permissions):
	// linking needs createBillingAssignment on the project and
	// resourceAssociations.create on the account; reading, projects.get.
	"/google.cloud.billing.v1.CloudBilling/GetProjectBillingInfo":    {Service: billingSvc, Method: "GetProjectBillingInfo", Perms: []string{"resourcemanager.projects.get"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.cloud.billing.v1.CloudBilling/UpdateProjectBillingInfo": {Service: billingSvc, Method: "UpdateProjectBillingInfo", Perms: []string{"resourcemanager.projects.createBillingAssignment", "billing.resourceAssociations.create"}, Type: AdminWrite, Resource: []string{"name"}, PermOn: map[string]string{"billing.resourceAssociations.create": "project_billing_info.billing_account_name"}},
	"/google.cloud.billing.v1.CloudBilling/GetBillingAccount":        {Service: billingSvc, Method: "GetBillingAccount", Perms: []string{"billing.accounts.get"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.cloud.billing.v1.CloudBilling/GetIamPolicy":             {Service: billingSvc, Method: "GetIamPolicy", Perms: []string{"billing.accounts.getIamPolicy"}, Type: AdminRead, Resource: []string{"resource"}},
	"/google.cloud.billing.v1.CloudBilling/SetIamPolicy":             {Service: billingSvc, Method: "SetIamPolicy", Perms: []string{"billing.accounts.setIamPolicy"}, Type: AdminWrite, Resource: []string{"resource"}},

	// Cloud Run (https://cloud.google.com/run/docs/audit-logging).
	"/google.cloud.run.v2.Services/GetService":   {Service: runSvc, Method: "google.cloud.run.v2.Services.GetService", Perms: []string{"run.services.get"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.cloud.run.v2.Services/ListServices": {Service: runSvc, Method: "google.cloud.run.v2.Services.ListServices", Perms: []string{"run.services.list"}, Type: AdminRead, Resource: []string{"parent"}},
	"/google.cloud.run.v2.Services/GetIamPolicy": {Service: runSvc, Method: "google.cloud.run.v2.Services.GetIamPolicy", Perms: []string{"run.services.getIamPolicy"}, Type: AdminRead, Resource: []string{"resource"}},
	"/google.cloud.run.v2.Services/SetIamPolicy": {Service: runSvc, Method: "google.cloud.run.v2.Services.SetIamPolicy", Perms: []string{"run.services.setIamPolicy"}, Type: AdminWrite, Resource: []string{"resource"}},
	// A service's new revision (https://cloud.google.com/run/docs/reference/iam/permissions).
	"/google.cloud.run.v2.Services/UpdateService": {Service: runSvc, Method: "google.cloud.run.v2.Services.UpdateService", Perms: []string{"run.services.update"}, Type: AdminWrite, Resource: []string{"service.name"}},
	"/google.cloud.run.v2.Services/DeleteService": {Service: runSvc, Method: "google.cloud.run.v2.Services.DeleteService", Perms: []string{"run.services.delete"}, Type: AdminWrite, Resource: []string{"name"}},

	// Service Usage (https://cloud.google.com/service-usage/docs/access-control)
	// and Artifact Registry (https://cloud.google.com/artifact-registry/docs/access-control):
	// reads of configuration, audited as ADMIN_READ (the stricter choice:
	// written whenever Admin Activity is, see FIDELITY.md).
	"/google.api.serviceusage.v1.ServiceUsage/GetService":                    {Service: usageSvc, Method: "google.api.serviceusage.v1.ServiceUsage.GetService", Perms: []string{"serviceusage.services.get"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.api.serviceusage.v1.ServiceUsage/EnableService":                 {Service: usageSvc, Method: "google.api.serviceusage.v1.ServiceUsage.EnableService", Perms: []string{"serviceusage.services.enable"}, Type: AdminWrite, Resource: []string{"name"}},
	"/google.devtools.artifactregistry.v1.ArtifactRegistry/ListRepositories": {Service: arSvc, Method: "google.devtools.artifactregistry.v1.ArtifactRegistry.ListRepositories", Perms: []string{"artifactregistry.repositories.list"}, Type: AdminRead, Resource: []string{"parent"}},

	// IAM service accounts and keys (https://cloud.google.com/iam/docs/audit-logging).
	"/google.iam.admin.v1.IAM/CreateServiceAccount":    withSuffix(Row{Service: iamSvc, Method: "google.iam.admin.v1.CreateServiceAccount", Perms: []string{"iam.serviceAccounts.create"}, Type: AdminWrite, Resource: []string{"name"}}, "serviceAccounts", "account_id"),
	"/google.iam.admin.v1.IAM/GetServiceAccount":       {Service: iamSvc, Method: "google.iam.admin.v1.GetServiceAccount", Perms: []string{"iam.serviceAccounts.get"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/ListServiceAccounts":     {Service: iamSvc, Method: "google.iam.admin.v1.ListServiceAccounts", Perms: []string{"iam.serviceAccounts.list"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/DeleteServiceAccount":    {Service: iamSvc, Method: "google.iam.admin.v1.DeleteServiceAccount", Perms: []string{"iam.serviceAccounts.delete"}, Type: AdminWrite, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/DisableServiceAccount":   {Service: iamSvc, Method: "google.iam.admin.v1.DisableServiceAccount", Perms: []string{"iam.serviceAccounts.disable"}, Type: AdminWrite, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/EnableServiceAccount":    {Service: iamSvc, Method: "google.iam.admin.v1.EnableServiceAccount", Perms: []string{"iam.serviceAccounts.enable"}, Type: AdminWrite, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/CreateServiceAccountKey": {Service: iamSvc, Method: "google.iam.admin.v1.CreateServiceAccountKey", Perms: []string{"iam.serviceAccountKeys.create"}, Type: AdminWrite, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/ListServiceAccountKeys":  {Service: iamSvc, Method: "google.iam.admin.v1.ListServiceAccountKeys", Perms: []string{"iam.serviceAccountKeys.list"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/DeleteServiceAccountKey": {Service: iamSvc, Method: "google.iam.admin.v1.DeleteServiceAccountKey", Perms: []string{"iam.serviceAccountKeys.delete"}, Type: AdminWrite, Resource: []string{"name"}},
	"/google.iam.admin.v1.IAM/GetIamPolicy":            {Service: iamSvc, Method: "google.iam.admin.v1.GetIamPolicy", Perms: []string{"iam.serviceAccounts.getIamPolicy"}, Type: AdminRead, Resource: []string{"resource"}},
	"/google.iam.admin.v1.IAM/SetIamPolicy":            {Service: iamSvc, Method: "google.iam.admin.v1.SetIamPolicy", Perms: []string{"iam.serviceAccounts.setIamPolicy"}, Type: AdminWrite, Resource: []string{"resource"}},
	// Service Account Credentials: ADMIN_READ, in the Data Access log
	// (https://cloud.google.com/iam/docs/audit-logging/audit-logging-iamcreds).
	"/google.iam.credentials.v1.IAMCredentials/GenerateAccessToken": {Service: "iamcredentials.googleapis.com", Method: "GenerateAccessToken", Perms: []string{"iam.serviceAccounts.getAccessToken"}, Type: AdminRead, Resource: []string{"name"}},
	"/google.iam.credentials.v1.IAMCredentials/SignJwt":             {Service: "iamcredentials.googleapis.com", Method: "SignJwt", Perms: []string{"iam.serviceAccounts.signJwt"}, Type: AdminRead, Resource: []string{"name"}},
	// Custom roles (https://cloud.google.com/iam/docs/creating-custom-roles#viewing_custom_roles):
	// reading one needs iam.roles.get on its project or organisation.
	"/google.iam.admin.v1.IAM/GetRole": {Service: iamSvc, Method: "google.iam.admin.v1.GetRole", Perms: []string{"iam.roles.get"}, Type: AdminRead, Resource: []string{"name"}},
	// Creating one needs iam.roles.create on the parent
	// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create).
	"/google.iam.admin.v1.IAM/CreateRole": withSuffix(Row{Service: iamSvc, Method: "google.iam.admin.v1.CreateRole", Perms: []string{"iam.roles.create"}, Type: AdminWrite, Resource: []string{"parent"}}, "roles", "role_id"),
	"/google.iam.admin.v1.IAM/UpdateRole": {Service: iamSvc, Method: "google.iam.admin.v1.UpdateRole", Perms: []string{"iam.roles.update"}, Type: AdminWrite, Resource: []string{"name"}},
}

func withSuffix(r Row, coll, field string) Row {
	r.SuffixColl, r.Suffix = coll, field
	return r
}

func withPartial(r Row, perms ...string) Row {
	r.Partial = perms
	return r
}

func withResource(r Row, fields ...string) Row {
	r.Resource = fields
	return r
}

// rest builds a Compute Engine row: permission compute.<coll>.<verb>,
// methodName "v1.compute.<coll>.<verb>"
// (https://cloud.google.com/compute/docs/logging/audit-logging).
func rest(method string, t LogType, extra ...string) Row {
	return Row{Service: computeSvc, Method: "v1." + method, Perms: append([]string{permOf(method)}, extra...), Type: t}
}

// permOf is the permission of a Compute method id: compute.instances.stop
// needs compute.instances.stop; inserts need create; aggregatedList list;
// operation waits get.
func permOf(method string) string {
	switch {
	case hasSuffix(method, ".insert"):
		return method[:len(method)-len("insert")] + "create"
	case hasSuffix(method, ".aggregatedList"):
		return method[:len(method)-len("aggregatedList")] + "list"
	case hasSuffix(method, ".wait"):
		return method[:len(method)-len("wait")] + "get"
	case hasSuffix(method, ".patch"):
		return method[:len(method)-len("patch")] + "update"
	}
	return method
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// REST is the table of Compute Engine methods the REST fake serves, keyed
// by method id. Permissions: https://cloud.google.com/compute/docs/reference/rest/v1
// ("Authorization requires the following IAM permission") and
// https://cloud.google.com/compute/docs/access/iam-permissions.
var REST = func() map[string]Row {
	m := map[string]Row{}
	reads := []string{
		"compute.instances.get", "compute.instances.list", "compute.instances.aggregatedList", "compute.instances.getGuestAttributes",
		"compute.disks.get", "compute.disks.list", "compute.snapshots.get", "compute.snapshots.list",
		"compute.networks.get", "compute.networks.list", "compute.subnetworks.get", "compute.subnetworks.list",
		"compute.firewalls.get", "compute.firewalls.list", "compute.routers.get", "compute.routers.list",
		"compute.zoneOperations.get", "compute.zoneOperations.wait", "compute.zoneOperations.list",
		"compute.regionOperations.get", "compute.regionOperations.wait", "compute.regionOperations.list",
		"compute.globalOperations.get", "compute.globalOperations.wait", "compute.globalOperations.list",
		"compute.projects.get",
		"compute.disks.getIamPolicy", "compute.snapshots.getIamPolicy",
		"compute.images.get", "compute.images.getIamPolicy", "compute.routes.get", "compute.routes.list",
	}
	for _, r := range reads {
		m[r] = rest(r, AdminRead)
	}
	writes := map[string][]string{
		// Creating a VM also sets what the request carries on it; the
		// account it runs as needs actAs (row flag).
		"compute.instances.insert": {"compute.disks.create", "compute.subnetworks.use", "compute.instances.setMetadata", "compute.instances.setTags", "compute.instances.setLabels", "compute.instances.setServiceAccount"},
		"compute.instances.delete": nil, "compute.instances.start": nil, "compute.instances.stop": nil,
		"compute.instances.setMetadata": nil, "compute.instances.setLabels": nil, "compute.instances.setTags": nil,
		// The snapshot carries labels: setting them is checked as on a
		// VM's creation (the stricter choice, see FIDELITY.md).
		"compute.disks.createSnapshot": {"compute.snapshots.create", "compute.snapshots.setLabels"}, "compute.disks.delete": nil, "compute.disks.setLabels": nil,
		"compute.snapshots.delete": nil, "compute.snapshots.setLabels": nil,
		"compute.networks.insert": nil, "compute.networks.delete": nil, "compute.networks.patch": nil,
		"compute.subnetworks.insert": {"compute.networks.get"}, "compute.subnetworks.delete": nil, "compute.subnetworks.patch": nil,
		"compute.firewalls.insert": {"compute.networks.updatePolicy"}, "compute.firewalls.delete": {"compute.networks.updatePolicy"},
		"compute.firewalls.patch": {"compute.networks.updatePolicy"}, "compute.firewalls.update": {"compute.networks.updatePolicy"},
		"compute.routers.insert": nil, "compute.routers.delete": nil, "compute.routers.patch": nil, "compute.routers.update": nil,
		"compute.projects.setCommonInstanceMetadata": nil,
		"compute.disks.setIamPolicy":                 nil, "compute.snapshots.setIamPolicy": nil,
		"compute.zoneOperations.delete": nil, "compute.regionOperations.delete": nil, "compute.globalOperations.delete": nil,
		// An image of a disk reads the disk; a route changes its network's
		// routing (https://cloud.google.com/compute/docs/access/iam-permissions).
		"compute.images.insert": {"compute.disks.useReadOnly"}, "compute.images.delete": nil, "compute.images.setIamPolicy": nil,
		"compute.routes.insert": {"compute.networks.updatePolicy"}, "compute.routes.delete": {"compute.networks.updatePolicy"},
		"compute.networks.addPeering": nil, "compute.networks.removePeering": nil,
		"compute.subnetworks.setPrivateIpGoogleAccess": nil, "compute.networks.switchToCustomMode": nil,
	}
	for w, extra := range writes {
		m[w] = rest(w, AdminWrite, extra...)
	}
	// Creating a VM or changing its metadata while it runs as a service account
	// acts as that account (https://cloud.google.com/compute/docs/access/iam#the_serviceaccountuser_role).
	for _, w := range []string{"compute.instances.insert", "compute.instances.setMetadata"} {
		r := m[w]
		r.ActAs = true
		m[w] = r
	}
	return m
}()
