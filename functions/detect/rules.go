package detect

// Names of the default rules.
const (
	RuleSandboxSAPrivilegedCall = "sandbox-sa-privileged-call"
	RuleSandboxSADenied         = "sandbox-sa-denied"
	RuleForeignSecretAccess     = "foreign-secret-access"
	RuleCanaryAccess            = "canary-access"
	RuleDefenceTampering        = "sandbox-defence-tampering"
	RuleDefenceChanged          = "defence-changed"
)

// Method-name patterns shared by the default rules and SinkFilter, so the
// sink never drops what a rule looks at. All are RE2, matched
// case-insensitively against protoPayload.methodName.
const (
	// privilegedMethods are IAM policy, key, role and impersonation calls:
	// what a hijacked agent would use to escalate or persist.
	privilegedMethods = `setiampolicy|createserviceaccountkey|uploadserviceaccountkey|serviceaccounts\.keys\.|createrole|updaterole|undeleterole|generateaccesstoken|generateidtoken|signblob|signjwt`
	// secretAccessMethods read a secret version's payload: only that
	// reveals the key (GetSecretVersion reads metadata, which operators
	// and coopguard read legitimately).
	secretAccessMethods = `(^|\.)accesssecretversion$`
	// networkChangeMethods change the sandbox's network, firewall rules,
	// router (Cloud NAT) or routes: its egress route by name (a delete's
	// entry names only the route), a route someone adds by its network.
	networkChangeMethods = `(^|\.)compute\.(firewalls|networks|subnetworks|routers|routes)\.(insert|patch|update|delete)$`
	// sinkChangeMethods change or remove a log sink.
	sinkChangeMethods = `(^|\.)(updatesink|deletesink)$`
	// alertingChangeMethods change or remove alert policies and
	// notification channels.
	alertingChangeMethods = `(^|\.)(deletealertpolicy|updatealertpolicy|deletenotificationchannel|updatenotificationchannel)$`
	// tagMethods set an instance's network tags (the quarantine tag).
	tagMethods = `(^|\.)compute\.instances\.settags$`
)

// Shared CEL fragments. has() guards every optional field, so an entry
// without it is simply no match instead of an evaluation error.
const (
	// sandbox.serviceAccount is lower case; audit logs normally are too, so
	// the exact comparison decides and lowerAscii is the rare fallback.
	celPrincipalIsSandboxSA = `has(entry.protoPayload.authenticationInfo) &&
	has(entry.protoPayload.authenticationInfo.principalEmail) &&
	sandbox.serviceAccount != "" &&
	(entry.protoPayload.authenticationInfo.principalEmail == sandbox.serviceAccount ||
	 entry.protoPayload.authenticationInfo.principalEmail.lowerAscii() == sandbox.serviceAccount)`

	// celDefenceChange: a change to what coopguard built around the
	// sandbox — its network, firewalls, router, egress route (or a route
	// added on its network), log sink, its own alerting
	// (sandbox.alerting), or the VM's tags (the quarantine tag). Resources are recognised by name,
	// the only thing a delete's entry carries.
	celDefenceChange = `has(entry.protoPayload) && has(entry.protoPayload.methodName) && has(entry.protoPayload.resourceName) &&
	((entry.protoPayload.methodName.matches(r'(?i)` + networkChangeMethods + `') &&
	  (entry.protoPayload.resourceName.substring(entry.protoPayload.resourceName.lastIndexOf('/') + 1) in sandbox.resources ||
	   (sandbox.network != "" && has(entry.protoPayload.request) && has(entry.protoPayload.request.network) &&
	    (entry.protoPayload.request.network == sandbox.network ||
	     entry.protoPayload.request.network.endsWith('/networks/' + sandbox.network))))) ||
	 (entry.protoPayload.methodName.matches(r'(?i)` + sinkChangeMethods + `') &&
	  entry.protoPayload.resourceName.substring(entry.protoPayload.resourceName.lastIndexOf('/') + 1) in sandbox.resources) ||
	 (entry.protoPayload.methodName.matches(r'(?i)` + alertingChangeMethods + `') && entry.protoPayload.resourceName in sandbox.alerting) ||
	 (sandbox.instanceName != "" && entry.protoPayload.methodName.matches(r'(?i)` + tagMethods + `') &&
	  entry.protoPayload.resourceName.endsWith('/instances/' + sandbox.instanceName)))`
)

// DefaultRules returns the rules coopguard ships; config may replace or
// extend them. Each call returns a fresh slice. Rules only ever see
// genuine audit entries of the sandbox's project, never calls by
// coopguard's own accounts (Engine.Evaluate).
func DefaultRules() []Rule {
	rules := append([]Rule{
		{
			Name:     RuleSandboxSAPrivilegedCall,
			Playbook: "contain",
			Severity: "CRITICAL",
			// The sandbox SA has no business touching IAM: whether the call
			// succeeded or not, the agent tried to escalate.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	` + celPrincipalIsSandboxSA + ` &&
	entry.protoPayload.methodName.matches(r'(?i)(` + privilegedMethods + `)')`,
		},
		{
			Name:     RuleSandboxSADenied,
			Playbook: "contain",
			Severity: "ERROR",
			// A least-privilege SA that hits PERMISSION_DENIED is probing.
			Expression: `has(entry.protoPayload) && ` + celPrincipalIsSandboxSA + ` &&
	has(entry.protoPayload.status) && has(entry.protoPayload.status.code) &&
	entry.protoPayload.status.code == 7`,
		},
		{
			Name:     RuleForeignSecretAccess,
			Playbook: "contain",
			Severity: "CRITICAL",
			// Only the sandbox reads its key; anyone else reading it (or an
			// unidentified caller) means the key is out. A refused read
			// leaked nothing: foreign-secret-access-denied notifies.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	has(entry.protoPayload.resourceName) && ` + celOK + ` &&
	entry.protoPayload.methodName.matches(r'(?i)` + secretAccessMethods + `') &&
	entry.protoPayload.resourceName.secretName() in sandbox.secrets &&
	!(` + celPrincipalIsSandboxSA + `)`,
		},
		{
			Name:     RuleCanaryAccess,
			Playbook: "contain",
			Severity: "CRITICAL",
			// Nothing legitimate reads the canary: whoever does is
			// looking for keys.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	has(entry.protoPayload.resourceName) &&
	entry.protoPayload.methodName.matches(r'(?i)` + secretAccessMethods + `') &&
	entry.protoPayload.resourceName.secretName() in sandbox.canaries`,
		},
		{
			Name:     RuleDefenceTampering,
			Playbook: "contain",
			Severity: "CRITICAL",
			// The agent itself undoing its cage.
			Expression: celDefenceChange + ` && ` + celPrincipalIsSandboxSA,
		},
		{
			Name:     RuleDefenceChanged,
			Playbook: "notify",
			Severity: "WARNING",
			// Someone else changed the cage: tell the operator; the next
			// converge repairs it.
			Expression: celDefenceChange + ` && !(` + celPrincipalIsSandboxSA + `)`,
		},
	}, originRules()...)
	return append(append(rules, catalogueRules()...), catalogueRules2()...)
}
