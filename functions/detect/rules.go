package detect

// Names of the default rules.
const (
	RuleSandboxSAPrivilegedCall = "sandbox-sa-privileged-call"
	RuleSandboxSADenied         = "sandbox-sa-denied"
	RuleForeignSecretAccess     = "foreign-secret-access"
	RuleSandboxNetworkChange    = "sandbox-network-change"
)

// Method-name patterns shared by the default rules and SinkFilter, so the
// sink never drops what a rule looks at. All are RE2, matched
// case-insensitively against protoPayload.methodName.
const (
	// privilegedMethods are IAM policy, key, role and impersonation calls:
	// what a hijacked agent would use to escalate or persist.
	privilegedMethods = `setiampolicy|createserviceaccountkey|uploadserviceaccountkey|serviceaccounts\.keys\.|createrole|updaterole|undeleterole|generateaccesstoken|generateidtoken|signblob|signjwt`
	// secretReadMethods read a secret version's payload or metadata. The
	// rule tests the same with endsWith, which is cheaper than a regex.
	secretReadMethods = `(^|\.)(accesssecretversion|getsecretversion)$`
	// networkChangeMethods change firewall rules or routes.
	networkChangeMethods = `(^|\.)compute\.(firewalls|routes)\.(insert|patch|update|delete)$`
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
)

// DefaultRules returns the rules coopguard ships; config may replace or
// extend them. Each call returns a fresh slice.
func DefaultRules() []Rule {
	return []Rule{
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
			// unidentified caller) means the key is out.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	has(entry.protoPayload.resourceName) &&
	(entry.protoPayload.methodName.endsWith('AccessSecretVersion') ||
	 entry.protoPayload.methodName.endsWith('GetSecretVersion')) &&
	entry.protoPayload.resourceName.secretName() in sandbox.secrets &&
	!(` + celPrincipalIsSandboxSA + `)`,
		},
		{
			Name:     RuleSandboxNetworkChange,
			Playbook: "quarantine",
			Severity: "WARNING",
			// Opening a firewall or adding a route on the sandbox network
			// undoes the no-ingress, NAT-only design.
			Expression: `sandbox.network != "" && has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	entry.protoPayload.methodName.contains('compute.') &&
	entry.protoPayload.methodName.matches(r'(?i)` + networkChangeMethods + `') &&
	((has(entry.protoPayload.resourceName) && entry.protoPayload.resourceName.contains(sandbox.network)) ||
	 (has(entry.protoPayload.request) && has(entry.protoPayload.request.network) &&
	  (entry.protoPayload.request.network == sandbox.network ||
	   entry.protoPayload.request.network.endsWith('/networks/' + sandbox.network))))`,
		},
	}
}
