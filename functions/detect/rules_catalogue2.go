package detect

import (
	"regexp"
	"strings"
)

// Rule names of the second batch of catalogue techniques.
const (
	// RulePipelineTopicSubscribed: someone else attached a subscription
	// to one of coopguard's topics (Elastic's "GCP Pub/Sub Subscription
	// Creation"): it receives a copy of every event coopguard does.
	RulePipelineTopicSubscribed = "pipeline-topic-subscribed"
	// RuleSandboxExposed: someone else gave the sandbox's VM an external
	// address or moved its interface (Falco's "GCP VM modified").
	RuleSandboxExposed = "sandbox-exposed"
	// RuleOSPolicyByOther: someone else made an OS policy assignment or
	// a patch job in the sandbox's project (Stratus's
	// gcp.execution.os-config-run-command by another principal).
	RuleOSPolicyByOther = "os-policy-by-other"
	// RuleSandboxTrafficMirrored: someone else mirrors the traffic of
	// the sandbox's network (Sigma's gcp_full_network_traffic_packet_capture).
	RuleSandboxTrafficMirrored = "sandbox-traffic-mirrored"
)

const (
	// createSubscriptionMethods attach a subscription to a topic.
	createSubscriptionMethods = `google\.pubsub\.v1\.subscriber\.createsubscription$`
	// osConfigRunMethods run commands as root on the VMs an instance
	// filter selects (https://cloud.google.com/compute/docs/os-configuration-management/audit-logging).
	osConfigRunMethods = `google\.cloud\.osconfig\.v1\w*\.(osconfigzonalservice\.(createospolicyassignment|updateospolicyassignment)|osconfigservice\.executepatchjob)$`
	// exposeMethods give a VM's interface an external address or attach
	// it to another network.
	exposeMethods = `(^|\.)compute\.instances\.(addaccessconfig|updateaccessconfig|updatenetworkinterface)$`
	// mirrorMethods create or change a packet mirroring, which copies
	// the traffic of VMs in one network to a collector
	// (https://cloud.google.com/vpc/docs/packet-mirroring).
	mirrorMethods = `(^|\.)compute\.packetmirrorings\.(insert|patch)$`
	// celMirrorsSandboxNetwork: the request's network (a packet
	// mirroring has exactly one; its mirrored VMs and subnetworks are in
	// it) is the sandbox's, or (a patch, whose request need not name the
	// network) it mirrors the sandbox's VM or one of its subnetworks.
	celMirrorsSandboxNetwork = `has(entry.protoPayload.request) && ((sandbox.network != "" && has(entry.protoPayload.request.network) &&
	has(entry.protoPayload.request.network.url) &&
	(entry.protoPayload.request.network.url == sandbox.network || entry.protoPayload.request.network.url.endsWith('/networks/' + sandbox.network))) ||
	(has(entry.protoPayload.request.mirroredResources) && (` + celMirrorsSandboxVM + ` || ` + celMirrorsSandboxSubnet + `)))`
	// celMirrorsSandboxVM: the request mirrors the sandbox's VM.
	celMirrorsSandboxVM = `(sandbox.instanceName != "" && has(entry.protoPayload.request.mirroredResources.instances) &&
	entry.protoPayload.request.mirroredResources.instances.urlNamed('instances', [sandbox.instanceName]))`
	// celMirrorsSandboxSubnet: the request mirrors a subnetwork coopguard
	// made for the sandbox.
	celMirrorsSandboxSubnet = `(has(entry.protoPayload.request.mirroredResources.subnetworks) &&
	entry.protoPayload.request.mirroredResources.subnetworks.urlNamed('subnetworks', sandbox.resources))`
	// eventarcAgentSuffix ends the email of Eventarc's service agent,
	// which creates the subscriptions of coopguard's own triggers
	// (https://cloud.google.com/eventarc/docs/roles-permissions#service-agents).
	eventarcAgentSuffix = `@gcp-sa-eventarc.iam.gserviceaccount.com`
	// celSubscribesPipelineTopic: the call's attachSubscription check
	// (made on the topic, https://cloud.google.com/pubsub/docs/access-control)
	// names one of coopguard's topics. The subscription's own name says
	// nothing: whoever creates it picks it.
	celSubscribesPipelineTopic = `has(entry.protoPayload.authorizationInfo) &&
	entry.protoPayload.authorizationInfo.checkedOn('pubsub.topics.attachSubscription').startsWith('projects/') &&
	(` + celAttachTopic + ` in sandbox.pipeline || ` + celAttachTopic + `.lowerAscii().startsWith('coopguard'))`
	// celAttachTopic is the id of the topic attachSubscription was
	// checked on.
	celAttachTopic = `entry.protoPayload.authorizationInfo.checkedOn('pubsub.topics.attachSubscription').substring(
	 entry.protoPayload.authorizationInfo.checkedOn('pubsub.topics.attachSubscription').lastIndexOf('/') + 1)`
)

// catalogueRules2 are the rules of the second batch of catalogue
// techniques; DefaultRules appends them.
func catalogueRules2() []Rule {
	return []Rule{
		{
			Name:     RulePipelineTopicSubscribed,
			Playbook: "notify",
			Severity: "WARNING",
			// A new reader of coopguard's events takes nothing from
			// coopguard (each subscription gets its own copy) and hands
			// the sandbox nothing: the operator decides. The sandbox's
			// own attempt is RuleSandboxSAWrite's; Eventarc's agent
			// creating a trigger's subscription is coopguard's deploy.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	entry.protoPayload.methodName.matches(r'(?i)` + createSubscriptionMethods + `') && ` + celSubscribesPipelineTopic + ` &&
	!(` + celPrincipalIsSandboxSA + `) &&
	!(has(entry.protoPayload.authenticationInfo) && has(entry.protoPayload.authenticationInfo.principalEmail) &&
	  entry.protoPayload.authenticationInfo.principalEmail.lowerAscii().endsWith('` + eventarcAgentSuffix + `'))`,
		},
		{
			Name:     RuleSandboxExposed,
			Playbook: "contain",
			Severity: "CRITICAL",
			// An external address is a way out of the sandbox that
			// bypasses the Cloud NAT whose log is coopguard's view of its
			// egress, and a way in from the internet: it hands the
			// sandbox power, like sandbox-handed-power, so it is
			// contained (the VM stopped, its identity disabled). The
			// sandbox's own attempt is sandbox-sa-write's.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) && has(entry.protoPayload.resourceName) && ` + celOK + ` &&
	entry.protoPayload.methodName.matches(r'(?i)` + exposeMethods + `') && ` + celOnSandboxVM + ` &&
	!(` + celPrincipalIsSandboxSA + `)`,
		},
		{
			Name:     RuleOSPolicyByOther,
			Playbook: "notify",
			Severity: "WARNING",
			// An assignment names its VMs by filter (all, labels,
			// inventories), which no rule resolves to the sandbox: any
			// one in the project may reach it, so every one is told
			// (the stricter choice). It is not contained: operators use
			// OS Config on their other VMs. The sandbox's own attempt is
			// sandbox-sa-write's; coopguard's accounts make none.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	entry.protoPayload.methodName.matches(r'(?i)` + osConfigRunMethods + `') && !(` + celPrincipalIsSandboxSA + `)`,
		},
		{
			Name:     RuleSandboxTrafficMirrored,
			Playbook: "notify",
			Severity: "WARNING",
			// A copy of the sandbox's traffic read elsewhere hands the
			// sandbox nothing, but it is its traffic (the key on the
			// wire included): the operator decides. A patch need not
			// name the network: one adding the sandbox's VM or subnet to
			// the mirrored resources is recognised by those.
			Expression: `has(entry.protoPayload) && has(entry.protoPayload.methodName) &&
	entry.protoPayload.methodName.matches(r'(?i)` + mirrorMethods + `') && ` + celMirrorsSandboxNetwork + ` &&
	!(` + celPrincipalIsSandboxSA + `)`,
		},
	}
}

// catalogueClauses2 are the sink filter's clauses for catalogueRules2,
// each a superset of what its rule matches.
func catalogueClauses2(sb Sandbox) []string {
	topics := `(?i)/topics/coopguard[^/]*$`
	if len(sb.Pipeline) > 0 {
		names := make([]string, len(sb.Pipeline))
		for i, p := range sb.Pipeline {
			names[i] = regexp.QuoteMeta(p)
		}
		topics += `|/topics/(` + strings.Join(names, "|") + `)$`
	}
	out := []string{`(protoPayload.methodName=~` + quote(`(?i)`+createSubscriptionMethods) +
		` AND protoPayload.authorizationInfo.resource=~` + quote(topics) + `)`}
	out = append(out, `protoPayload.methodName=~`+quote(`(?i)`+osConfigRunMethods))
	if sb.InstanceName != "" {
		out = append(out, `(protoPayload.methodName=~`+quote(`(?i)`+exposeMethods)+
			` AND protoPayload.resourceName=~`+quote(`/instances/`+regexp.QuoteMeta(sb.InstanceName)+`$`)+`)`)
	}
	if sb.Network != "" {
		out = append(out, `(protoPayload.methodName=~`+quote(`(?i)`+mirrorMethods)+
			` AND protoPayload.request.network.url:`+quote(sb.Network)+`)`)
	}
	// A patch naming the sandbox's VM or a subnetwork among its mirrored
	// resources (a superset: the rule checks the subnetwork is coopguard's).
	var mirrored []string
	if sb.InstanceName != "" {
		mirrored = append(mirrored, `protoPayload.request.mirroredResources.instances.url=~`+quote(`/instances/`+regexp.QuoteMeta(sb.InstanceName)+`$`))
	}
	if len(sb.Resources) > 0 {
		mirrored = append(mirrored, `protoPayload.request.mirroredResources.subnetworks.url:"/subnetworks/"`)
	}
	if len(mirrored) > 0 {
		out = append(out, `(protoPayload.methodName=~`+quote(`(?i)`+mirrorMethods)+` AND (`+strings.Join(mirrored, " OR ")+`))`)
	}
	return out
}
