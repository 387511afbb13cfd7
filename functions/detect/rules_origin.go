package detect

import (
	"regexp"
	"slices"
	"strings"

	"github.com/cloudcoop/coopguard/shared/events"
)

// Names of the rules on where a call by the sandbox's account came from.
const (
	// RuleSandboxSAOutside: the sandbox's account called from outside the
	// sandbox's network (a stolen token used elsewhere).
	RuleSandboxSAOutside = "sandbox-sa-outside-network"
	// RuleSandboxSAImpersonated: the call was made through a token another
	// principal minted for the sandbox's account.
	RuleSandboxSAImpersonated = "sandbox-sa-impersonated"
	// RuleSandboxKeyReadVMOff: the sandbox's account read its key while
	// its VM was not running, so not from the VM.
	RuleSandboxKeyReadVMOff = "sandbox-key-read-vm-off"
)

// Where a call came from, as Cloud Audit Logs writes it
// (google.cloud.audit.RequestMetadata and ServiceAccountDelegationInfo,
// https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog):
//
//   - callerIp: for a VM without an external address calling a resource of
//     its own project (Private Google Access), the VM's internal IPv4
//     address; for a caller on the internet, its public address;
//     "gce-internal-ip" for a VM of another organisation or project;
//   - callerNetwork: set only when the caller's network is in the
//     resource's organisation or project,
//     "//compute.googleapis.com/projects/PROJECT/global/networks/NETWORK";
//     public entries show the network redacted to "__unknown__";
//   - serviceAccountDelegationInfo: who minted the token the account's
//     call used; a VM's own calls name its project's Compute Engine
//     Service Agent, service-NUMBER@compute-system.iam.gserviceaccount.com.
const (
	// unknownNetwork is the network id GCP writes when it redacts it.
	unknownNetwork = "__unknown__"
	// computeSystemAgentRE matches a Compute Engine Service Agent, the
	// minter of every VM's own token.
	computeSystemAgentRE = `^service-[0-9]+@compute-system\.iam\.gserviceaccount\.com$`
	// computeSystemAgentDomain ends every Compute Engine Service Agent's
	// email; the domain is Google's, no user account is in it. Rules test
	// it with startsWith/endsWith, not a regex, to stay cheap per element.
	computeSystemAgentDomain = `@compute-system.iam.gserviceaccount.com`
	// celPrivateIPv4 tests that %s, an address, is in the RFC 1918 ranges
	// a VM's internal address is in.
	celPrivateIPv4 = `(cidr('10.0.0.0/8').containsIP(%s) || cidr('172.16.0.0/12').containsIP(%s) || cidr('192.168.0.0/16').containsIP(%s))`
)

// celFromSandboxVM: GCP says the call came from the sandbox's VM — its
// project's network (by the sandbox network's name, or redacted) and a
// private address inside the sandbox's subnet. An entry without a
// callerIp says nothing of where the call came from and is not judged.
var celFromSandboxVM = `(has(entry.protoPayload.requestMetadata.callerNetwork) &&
	(entry.protoPayload.requestMetadata.callerNetwork == '//compute.googleapis.com/projects/' + sandbox.project + '/global/networks/' + sandbox.network ||
	 entry.protoPayload.requestMetadata.callerNetwork == '//compute.googleapis.com/projects/' + sandbox.project + '/global/networks/` + unknownNetwork + `') &&
	isIP(entry.protoPayload.requestMetadata.callerIp) && ip(entry.protoPayload.requestMetadata.callerIp).family() == 4 &&
	` + strings.ReplaceAll(celPrivateIPv4, "%s", "entry.protoPayload.requestMetadata.callerIp") + ` &&
	(sandbox.subnetCidr == '' ||
	 (isCIDR(sandbox.subnetCidr) && cidr(sandbox.subnetCidr).containsIP(entry.protoPayload.requestMetadata.callerIp))))`

// celForeignMinter: the call's token was minted by a principal other than
// a Compute Engine Service Agent (impersonation: generateAccessToken,
// signJwt, a workload identity pool).
var celForeignMinter = `has(entry.protoPayload.authenticationInfo.serviceAccountDelegationInfo) &&
	entry.protoPayload.authenticationInfo.serviceAccountDelegationInfo.exists(d,
	  has(d.thirdPartyPrincipal) ||
	  (has(d.firstPartyPrincipal) && has(d.firstPartyPrincipal.principalEmail) &&
	   !(d.firstPartyPrincipal.principalEmail.startsWith('service-') &&
	     d.firstPartyPrincipal.principalEmail.endsWith('` + computeSystemAgentDomain + `'))))`

// originRules are the rules on where a call by the sandbox's account came
// from; DefaultRules includes them.
func originRules() []Rule {
	return []Rule{
		{
			Name:     RuleSandboxSAOutside,
			Playbook: "contain",
			Severity: "CRITICAL",
			// Only the sandbox's VM uses its account, from its network:
			// the same account anywhere else is its token stolen.
			Expression: `has(entry.protoPayload) && ` + celPrincipalIsSandboxSA + ` &&
	has(entry.protoPayload.requestMetadata) && has(entry.protoPayload.requestMetadata.callerIp) &&
	!` + celFromSandboxVM,
		},
		{
			Name:     RuleSandboxSAImpersonated,
			Playbook: "contain",
			Severity: "CRITICAL",
			// Someone made a token for the sandbox's account and used it.
			Expression: `has(entry.protoPayload) && ` + celPrincipalIsSandboxSA + ` && ` + celForeignMinter,
		},
		{
			Name:     RuleSandboxKeyReadVMOff,
			Playbook: "contain",
			Severity: "CRITICAL",
			// The agent reads the key from its VM, which runs. A read while
			// the VM was off (stopped before the call, or off at the call
			// and started since) came from somewhere else. STOPPING and
			// SUSPENDING VMs still run their guest.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) && has(entry.protoPayload.resourceName) &&
	entry.protoPayload.methodName.matches(r'(?i)` + secretAccessMethods + `') &&
	entry.protoPayload.resourceName.secretName() in sandbox.secrets &&
	` + celPrincipalIsSandboxSA + ` &&
	sandbox.vmStatus != '' && has(entry.timestamp) &&
	((!(sandbox.vmStatus in ['RUNNING', 'STOPPING', 'SUSPENDING']) &&
	  (!has(sandbox.vmStoppedAt) || sandbox.vmStoppedAt <= entry.timestamp)) ||
	 (sandbox.vmStatus == 'RUNNING' && has(sandbox.vmStoppedAt) && has(sandbox.vmStartedAt) &&
	  sandbox.vmStoppedAt <= entry.timestamp && entry.timestamp < sandbox.vmStartedAt))`,
		},
	}
}

// originClause is the part of the sink filter that admits what the origin
// rules read, calls by the sandbox's account only: from anywhere but the
// sandbox's VM (as celFromSandboxVM), with a token minted by anyone but a
// Compute Engine Service Agent, and its reads of the managed keys (the VM's
// status at the call decides those).
func originClause(sb Sandbox) string {
	if sb.ServiceAccount == "" {
		return ""
	}
	rm := `protoPayload.requestMetadata.`
	nets := []string{quote("//compute.googleapis.com/projects/" + sb.Project + "/global/networks/" + unknownNetwork)}
	if sb.Network != "" {
		nets = append(nets, quote("//compute.googleapis.com/projects/"+sb.Project+"/global/networks/"+sb.Network))
	}
	vm := rm + `callerNetwork=(` + strings.Join(nets, ` OR `) + `)`
	vm += ` AND (ip_in_net(` + rm + `callerIp, "10.0.0.0/8") OR ip_in_net(` + rm + `callerIp, "172.16.0.0/12") OR ip_in_net(` + rm + `callerIp, "192.168.0.0/16"))`
	if sb.SubnetCIDR != "" {
		vm += ` AND ip_in_net(` + rm + `callerIp, ` + quote(sb.SubnetCIDR) + `)`
	}
	del := `protoPayload.authenticationInfo.serviceAccountDelegationInfo`
	alts := []string{
		`(` + rm + `callerIp:* AND NOT (` + vm + `))`,
		`(` + del + `:* AND (` + del + `.firstPartyPrincipal.principalEmail!~` + quote(computeSystemAgentRE) + ` OR ` + del + `.thirdPartyPrincipal:*))`,
	}
	if len(sb.Secrets) > 0 {
		alts = append(alts, `(protoPayload.methodName=~`+quote(`(?i)`+secretAccessMethods)+` AND protoPayload.resourceName=~`+quote(secretsRE(sb.Secrets))+`)`)
	}
	return `(protoPayload.authenticationInfo.principalEmail=` + quote(strings.ToLower(sb.ServiceAccount)) + ` AND (` + strings.Join(alts, ` OR `) + `))`
}

// nonEmptyClauses drops empty filter clauses.
func nonEmptyClauses(cs ...string) []string {
	var out []string
	for _, c := range cs {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// secretAccessRE is secretAccessMethods compiled, for NeedsVMStatus.
var secretAccessRE = regexp.MustCompile(`(?i)` + secretAccessMethods)

// NeedsVMStatus reports whether judging entry for sb needs the VM's
// status (Sandbox.VMStatus and its timestamps): it is a read of a managed
// key by the sandbox's own account. Every other entry is judged without
// a Compute API call.
func NeedsVMStatus(entry events.LogEntry, sb Sandbox) bool {
	a := entry.Audit
	return sb.ServiceAccount != "" && strings.EqualFold(a.PrincipalEmail, sb.ServiceAccount) &&
		secretAccessRE.MatchString(a.MethodName) && slices.Contains(sb.Secrets, secretName(a.ResourceName))
}

// withOrigin adds to the CEL value of sb what the origin rules read:
// subnetCidr and vmStatus always, vmStoppedAt and vmStartedAt only when
// known, so has() tells them apart from the epoch.
func withOrigin(m map[string]any, sb Sandbox) map[string]any {
	m["subnetCidr"] = sb.SubnetCIDR
	m["vmStatus"] = sb.VMStatus
	if !sb.VMStoppedAt.IsZero() {
		m["vmStoppedAt"] = sb.VMStoppedAt
	}
	if !sb.VMStartedAt.IsZero() {
		m["vmStartedAt"] = sb.VMStartedAt
	}
	return m
}
