package detect

import (
	"regexp"
	"strings"
)

// Rules for the public attack catalogue (DataDog Stratus Red Team's GCP
// techniques, Falco's gcpaudit rules, SigmaHQ rules/cloud/gcp/audit,
// Elastic's GCP rules), read for a sandbox: the README's coverage table
// maps each technique to the audit entry, rule, playbook and drill.

// Names of the catalogue rules.
const (
	RuleSandboxSAWrite             = "sandbox-sa-write"
	RuleSandboxHandedPower         = "sandbox-handed-power"
	RuleSandboxSurroundingsChanged = "sandbox-surroundings-changed"
	RuleForeignSecretAccessDenied  = "foreign-secret-access-denied"
)

// Method-name patterns of the catalogue rules (RE2, matched
// case-insensitively against protoPayload.methodName).
const (
	// dataWriteMethods are the catalogue's calls that write only Data
	// Access entries: OS Login key import (DATA_WRITE) and SSH
	// certificate signing (ADMIN_READ)
	// (https://cloud.google.com/compute/docs/oslogin/view-audit-logs) and
	// OS Config's run-command and patch jobs
	// (https://stratus-red-team.cloud/attack-techniques/GCP/gcp.execution.os-config-run-command/).
	dataWriteMethods = `importsshpublickey|updatesshpublickey|signsshpublickey|(create|update)ospolicyassignment|executepatchjob`
	// identityMethods hand out the sandbox's identity when their resource
	// is its account: a key, a token or a signature for it, or its IAM
	// policy (who may act as it).
	identityMethods = `createserviceaccountkey|uploadserviceaccountkey|generateaccesstoken|generateidtoken|signblob|signjwt|(^|\.)setiampolicy$|enableserviceaccount|undeleteserviceaccount`
	// vmPowerMethods change what runs on the sandbox's VM or as which
	// account, or who may log in to it or read its disk.
	vmPowerMethods = `(^|\.)compute\.(instances\.(setserviceaccount|setiampolicy)|(disks|snapshots|images)\.setiampolicy)$`
	// metadataMethods change an instance's metadata.
	metadataMethods = `(^|\.)compute\.instances\.setmetadata$`
	// surroundingsMethods copy the sandbox's disk or reroute its
	// network: a snapshot of its disk, routes, peering.
	surroundingsMethods = `(^|\.)compute\.(disks\.createsnapshot|routes\.(insert|delete)|networks\.(addpeering|removepeering|updatepeering))$`
	// imageMethods make an image, which copies its source disk whatever
	// the image is named: the entry names the disk in request.sourceDisk.
	imageMethods = `(^|\.)compute\.images\.insert$`
	// projectMetadataMethods change project-wide metadata, which the
	// sandbox's VM inherits where it has no key of its own.
	projectMetadataMethods = `(^|\.)compute\.projects\.setcommoninstancemetadata$`
	// pipelineMethods change or remove a part of coopguard's own
	// pipeline: its topics and subscriptions (Pub/Sub), functions (Cloud
	// Functions and the Cloud Run services behind them), custom roles
	// and service accounts.
	pipelineMethods = `google\.pubsub\.v1\.(publisher\.(deletetopic|updatetopic|detachsubscription|setiampolicy)|subscriber\.(deletesubscription|updatesubscription|modifypushconfig|setiampolicy))$|` +
		`google\.cloud\.functions\.v\d\w*\.\w+\.(updatefunction|deletefunction|setiampolicy)$|` +
		`google\.cloud\.run\.v\d\w*\.services\.(updateservice|deleteservice|setiampolicy)$|` +
		`(^|\.)(updaterole|deleterole|disableserviceaccount|deleteserviceaccount|updateserviceaccount|patchserviceaccount|createserviceaccountkey|uploadserviceaccountkey)$|` +
		`iam\.admin\.v1\.setiampolicy$`
	// functionPolicyMethods change a function's IAM policy through the
	// Cloud Functions v2 API, whose google.iam.v1.IAMPolicy mixin writes
	// the short method name
	// (https://cloud.google.com/functions/docs/monitoring/audit-logging):
	// it is coopguard's only when the resource is one of its functions.
	functionPolicyMethods = `^setiampolicy$`
)

// Shared CEL fragments of the catalogue rules.
const (
	// celOK: the call succeeded (no status, or code 0).
	celOK = `(!has(entry.protoPayload.status) || !has(entry.protoPayload.status.code) || entry.protoPayload.status.code == 0)`
	// celLastSegment is the resource name's last path segment.
	celLastSegment = `entry.protoPayload.resourceName.substring(entry.protoPayload.resourceName.lastIndexOf('/') + 1)`
	// celNamesSandboxSA: the resource is the sandbox's account (its
	// keys included), by email in the name or the monitored resource.
	celNamesSandboxSA = `sandbox.serviceAccount != "" &&
	((has(entry.protoPayload.resourceName) && entry.protoPayload.resourceName.lowerAscii().contains('serviceaccounts/' + sandbox.serviceAccount)) ||
	 (has(entry.resource) && has(entry.resource.labels) && 'email_id' in entry.resource.labels &&
	  entry.resource.labels['email_id'].lowerAscii() == sandbox.serviceAccount))`
	// celGrantsSandboxSA: the policy change added a binding for the
	// sandbox's account (serviceData.policyDelta, on any resource).
	celGrantsSandboxSA = `sandbox.serviceAccount != "" && has(entry.protoPayload.serviceData) &&
	has(entry.protoPayload.serviceData.policyDelta) && has(entry.protoPayload.serviceData.policyDelta.bindingDeltas) &&
	entry.protoPayload.serviceData.policyDelta.bindingDeltas.addsMember('serviceAccount:' + sandbox.serviceAccount)`
	// celAddsBinding: the policy change added some binding.
	celAddsBinding = `has(entry.protoPayload.serviceData) &&
	has(entry.protoPayload.serviceData.policyDelta) && has(entry.protoPayload.serviceData.policyDelta.bindingDeltas) &&
	entry.protoPayload.serviceData.policyDelta.bindingDeltas.addsMember('')`
	// celOnSandboxVM: the resource is the sandbox's VM.
	celOnSandboxVM = `sandbox.instanceName != "" && entry.protoPayload.resourceName.endsWith('/instances/' + sandbox.instanceName)`
	// celOnSandboxDisk: the resource is the sandbox's boot disk (named
	// after the VM), or an image or snapshot named after it.
	celOnSandboxDisk = `sandbox.instanceName != "" && (` + celLastSegment + ` == sandbox.instanceName || ` + celLastSegment + `.startsWith(sandbox.instanceName + '-'))`
	// celCopyOfSandboxDisk: the snapshot or image is a copy of the
	// sandbox's boot disk, whatever its name (Sandbox.CopyOf, read from
	// Compute).
	celCopyOfSandboxDisk = `sandbox.instanceName != "" && sandbox.copyOf != "" &&
	sandbox.copyOf.endsWith('/disks/' + sandbox.instanceName) && sandbox.copyOf.contains('projects/' + sandbox.project + '/')`
	// celImageOfSandboxDisk: the request's source disk is the sandbox's
	// boot disk (images.insert).
	celImageOfSandboxDisk = `sandbox.instanceName != "" && has(entry.protoPayload.request) && has(entry.protoPayload.request.sourceDisk) &&
	entry.protoPayload.request.sourceDisk.endsWith('/disks/' + sandbox.instanceName)`
	// celOnSandboxNetwork: the request or resource is the sandbox's network.
	celOnSandboxNetwork = `sandbox.network != "" &&
	(entry.protoPayload.resourceName.endsWith('/networks/' + sandbox.network) ||
	 (has(entry.protoPayload.request) && has(entry.protoPayload.request.network) &&
	  (entry.protoPayload.request.network == sandbox.network || entry.protoPayload.request.network.endsWith('/networks/' + sandbox.network))))`
	// celAuditConfigChanged: a SetIamPolicy changed audit configs.
	celAuditConfigChanged = `has(entry.protoPayload.serviceData) && has(entry.protoPayload.serviceData.policyDelta) &&
	has(entry.protoPayload.serviceData.policyDelta.auditConfigDeltas) &&
	size(entry.protoPayload.serviceData.policyDelta.auditConfigDeltas) > 0`
	// celOnPipeline: the resource is part of coopguard's pipeline: one of
	// its topics, a function, Cloud Run service, custom role or account
	// deploy names coopguard-*/coopguard*, or an Eventarc subscription
	// of one of its functions.
	celOnPipeline = `(` + celLastSegment + ` in sandbox.pipeline ||
	 ` + celLastSegment + `.lowerAscii().startsWith('coopguard') ||
	 (entry.protoPayload.resourceName.contains('/subscriptions/') && ` + celLastSegment + `.contains('-coopguard-')))`
)

// powerKeys are the metadata keys that run code on the VM, let someone log
// in, or turn off OS Login and the block on project-wide keys
// (https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys).
var powerKeys = []string{"startup-script", "startup-script-url", "shutdown-script", "shutdown-script-url",
	"ssh-keys", "sshkeys", "windows-keys", "enable-oslogin", "enable-oslogin-2fa", "block-project-ssh-keys",
	"serial-port-enable", "user-data"}

// celPowerKeyChanged: setMetadata added or modified a key in powerKeys
// (metadata.instanceMetadataDelta, keys only).
var celPowerKeyChanged = func() string {
	list := `['` + strings.Join(powerKeys, `', '`) + `']`
	delta := `entry.protoPayload.metadata.instanceMetadataDelta`
	return `has(entry.protoPayload.metadata) && has(` + delta + `) &&
	((has(` + delta + `.addedMetadataKeys) && ` + delta + `.addedMetadataKeys.anyOf(` + list + `)) ||
	 (has(` + delta + `.modifiedMetadataKeys) && ` + delta + `.modifiedMetadataKeys.anyOf(` + list + `)))`
}()

// catalogueRules are the rules for the catalogue's techniques; DefaultRules
// appends them.
func catalogueRules() []Rule {
	has := `has(entry.protoPayload) && has(entry.protoPayload.methodName) && has(entry.protoPayload.resourceName) && `
	other := ` && !(` + celPrincipalIsSandboxSA + `)`
	return []Rule{
		{
			Name:     RuleSandboxSAWrite,
			Playbook: "contain",
			Severity: "CRITICAL",
			// The sandbox's account has no business changing anything in
			// the cloud: any Admin Activity entry (a write, allowed or
			// not) or a catalogue Data Access write (an OS Login key, an
			// OS Config command) by it is an agent reaching out.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) && ` + celPrincipalIsSandboxSA + ` &&
	(entry.logName.endsWith('/logs/cloudaudit.googleapis.com%2Factivity') ||
	 entry.protoPayload.methodName.matches(r'(?i)(` + dataWriteMethods + `)'))`,
		},
		{
			Name:     RuleSandboxHandedPower,
			Playbook: "contain",
			Severity: "CRITICAL",
			// Someone else handed the sandbox's identity or VM more power,
			// or handed them out: a key, token or signature for its
			// account, a grant to or on it, code or login keys planted in
			// its metadata, another account on its VM, its disk shared.
			// Containment (the account disabled, the VM stopped) is what
			// takes them back.
			Expression: has + celOK + other + ` &&
	((entry.protoPayload.methodName.matches(r'(?i)(` + identityMethods + `)') && ` + celNamesSandboxSA + ` &&
	  (!entry.protoPayload.methodName.matches(r'(?i)setiampolicy$') || ` + celAddsBinding + `)) ||
	 ` + celGrantsSandboxSA + ` ||
	 (entry.protoPayload.methodName.matches(r'(?i)` + metadataMethods + `') && ` + celOnSandboxVM + ` && ` + celPowerKeyChanged + `) ||
	 (entry.protoPayload.methodName.matches(r'(?i)` + vmPowerMethods + `') && (` + celOnSandboxVM + ` || ` + celOnSandboxDisk + ` || ` + celCopyOfSandboxDisk + `)))`,
		},
		{
			Name:     RuleSandboxSurroundingsChanged,
			Playbook: "notify",
			Severity: "WARNING",
			// Someone else copied the sandbox's disk (a snapshot, an
			// image under any name), rerouted its
			// network, changed the project's audit logs or metadata, or
			// changed coopguard's own pipeline; or tried, and was refused,
			// to hand out the sandbox's identity. The operator decides.
			Expression: has + `!(` + celPrincipalIsSandboxSA + `) &&
	((entry.protoPayload.methodName.matches(r'(?i)` + surroundingsMethods + `') && (` + celOnSandboxDisk + ` || ` + celOnSandboxNetwork + `)) ||
	 (entry.protoPayload.methodName.matches(r'(?i)` + imageMethods + `') && ` + celImageOfSandboxDisk + `) ||
	 ` + celAuditConfigChanged + ` ||
	 entry.protoPayload.methodName.matches(r'(?i)` + projectMetadataMethods + `') ||
	 (entry.protoPayload.methodName.matches(r'(?i)(` + pipelineMethods + `)') && ` + celOnPipeline + `) ||
 (entry.protoPayload.methodName.matches(r'(?i)` + functionPolicyMethods + `') && entry.protoPayload.resourceName.contains('/functions/') && ` + celOnPipeline + `) ||
	 (!` + celOK + ` && entry.protoPayload.methodName.matches(r'(?i)(` + identityMethods + `)') && ` + celNamesSandboxSA + `))`,
		},
		{
			Name:     RuleForeignSecretAccessDenied,
			Playbook: "notify",
			Severity: "WARNING",
			// Someone else tried to read the key and was refused: nothing
			// leaked, but the operator should know who is trying.
			Expression: has + `entry.protoPayload.methodName.matches(r'(?i)` + secretAccessMethods + `') &&
	entry.protoPayload.resourceName.secretName() in sandbox.secrets && !` + celOK + other,
		},
	}
}

// copyShareMethods share a snapshot or an image: whether it is a copy of
// the sandbox's disk is read from Compute (Sandbox.CopyOf).
const copyShareMethods = `(^|\.)compute\.(snapshots|images)\.setiampolicy$`

var copyShare = regexp.MustCompile(`(?i)` + copyShareMethods)

// IsCopyShare reports whether method shares a snapshot or an image:
// HandleLogEntry then reads which disk it was made from (Sandbox.CopyOf).
func IsCopyShare(method string) bool { return copyShare.MatchString(method) }

// alertingChange matches the methods of alertingChangeMethods.
var alertingChange = regexp.MustCompile(`(?i)` + alertingChangeMethods)

// IsAlertingChange reports whether method changes or removes an alert
// policy or notification channel: HandleLogEntry then tells the rules
// which of them are coopguard's (Sandbox.Alerting).
func IsAlertingChange(method string) bool { return alertingChange.MatchString(method) }
