package audit

import (
	"strings"

	auditpb "google.golang.org/genproto/googleapis/cloud/audit"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// OutsideIP is the callerIp of every call made from outside Google Cloud
// (a plain "emulated:<email>" token): an address of the documentation
// range 203.0.113.0/24 (RFC 5737), public as far as any rule can tell.
const OutsideIP = "203.0.113.7"

// UnknownNetwork is the network id Cloud Audit Logs writes in callerNetwork
// for a VM's calls through Private Google Access: public audit entries show
// "//compute.googleapis.com/projects/<project>/global/networks/__unknown__"
// where the AuditLog reference's example has NETWORK_ID. The emulator
// writes the redacted form, the less informative of the two, so nothing
// downstream leans on a network name GCP does not reliably give.
const UnknownNetwork = "__unknown__"

// CallerNetwork is the callerNetwork of a call from a VM on a network of
// project (by id): a scheme-less full resource name
// (https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog#requestmetadata).
func CallerNetwork(project string) string {
	return "//compute.googleapis.com/projects/" + project + "/global/networks/" + UnknownNetwork
}

// ComputeSystemAgent is the Compute Engine Service Agent of the project
// with number num: it mints the token a VM's metadata server hands out,
// so a VM's calls name it as the first-party principal of their
// serviceAccountDelegationInfo.
func ComputeSystemAgent(num string) string {
	return "service-" + num + "@compute-system.iam.gserviceaccount.com"
}

// origin sets where the call came from, as its audit entry records it
// (requestMetadata.callerIp and callerNetwork; authenticationInfo.
// serviceAccountDelegationInfo). A call made with a token minted for the
// account by another principal comes from outside Google Cloud and names
// that principal as its first-party authority. A call made with a token the metadata
// server of a RUNNING VM handed out for the VM's own account comes from
// that VM: the internal IPv4 address of its first interface (it has no
// external one: the Private Google Access case, where GCP writes the
// internal address for a VM of the resource's project), its project's
// network, and the Compute Engine Service Agent as the token's minter.
// Every other call, a stolen VM token used after the VM stopped
// included, comes from outside Google Cloud: OutsideIP, no network, no
// delegation.
func (g *Gate) origin(c *call, authorization string) {
	c.callerIP, c.callerNetwork, c.delegation = OutsideIP, "", nil
	if minter, ok := iam.MinterFromAuthorization(authorization); ok {
		// A token minted for the account by another principal: from
		// outside, with that principal as the first-party authority.
		c.delegation = firstParty(minter)
		return
	}
	name, ok := iam.InstanceFromAuthorization(authorization)
	if !ok || g.Instance == nil {
		return
	}
	inst, ok := g.Instance(name)
	if !ok || inst.GetStatus() != "RUNNING" || len(inst.GetNetworkInterfaces()) == 0 {
		return
	}
	if sa := inst.GetServiceAccounts(); len(sa) == 0 || !strings.EqualFold(sa[0].GetEmail(), c.principal) {
		return
	}
	ip := inst.GetNetworkInterfaces()[0].GetNetworkIP()
	project := strings.TrimPrefix(name, "projects/")
	project, _, _ = strings.Cut(project, "/")
	if ip == "" || project == "" {
		return
	}
	project = g.ProjectID(project)
	c.callerIP, c.callerNetwork = ip, CallerNetwork(project)
	c.delegation = firstParty(ComputeSystemAgent(g.ProjectNumber(project)))
}

// firstParty is a delegation history of one first-party (Google)
// principal, the real authority behind the call.
func firstParty(email string) []*auditpb.ServiceAccountDelegationInfo {
	return []*auditpb.ServiceAccountDelegationInfo{{Authority: &auditpb.ServiceAccountDelegationInfo_FirstPartyPrincipal_{
		FirstPartyPrincipal: &auditpb.ServiceAccountDelegationInfo_FirstPartyPrincipal{PrincipalEmail: email},
	}}}
}
