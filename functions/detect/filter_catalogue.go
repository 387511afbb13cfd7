package detect

import (
	"regexp"
	"strings"
)

// catalogueClauses are the sink filter's clauses for the catalogue rules
// (rules_catalogue.go), each a superset of what its rule matches and
// narrowed, as the rule is, to the sandbox's account, VM, disk, network
// and coopguard's own pipeline. Clauses whose sandbox field is empty are
// left out.
func catalogueClauses(sb Sandbox) []string {
	var out []string
	method := func(re string) string { return `protoPayload.methodName=~` + quote(`(?i)(`+re+`)`) }
	resource := func(re string) string { return `protoPayload.resourceName=~` + quote(re) }
	if sb.ServiceAccount != "" {
		sa := strings.ToLower(sb.ServiceAccount)
		out = append(out,
			// RuleSandboxSAWrite.
			`(protoPayload.authenticationInfo.principalEmail=`+quote(sa)+
				` AND (logName=`+quote("projects/"+sb.Project+"/logs/cloudaudit.googleapis.com%2Factivity")+` OR `+method(dataWriteMethods)+`))`,
			// RuleSandboxHandedPower and the refused attempts of
			// RuleSandboxSurroundingsChanged: the account's keys, tokens,
			// policy, and grants to it.
			`(`+method(identityMethods)+` AND (protoPayload.resourceName:`+quote("serviceAccounts/"+sa)+
				` OR resource.labels.email_id=`+quote(sa)+`))`,
			`protoPayload.serviceData.policyDelta.bindingDeltas.member=`+quote("serviceAccount:"+sa))
	}
	if sb.InstanceName != "" {
		vm := regexp.QuoteMeta(sb.InstanceName)
		keys := make([]string, len(powerKeys))
		for i, k := range powerKeys {
			keys[i] = regexp.QuoteMeta(k)
		}
		kre := quote(`(?i)^(` + strings.Join(keys, "|") + `)$`)
		delta := `protoPayload.metadata.instanceMetadataDelta.`
		out = append(out,
			`(`+method(metadataMethods)+` AND `+resource(`/instances/`+vm+`$`)+
				` AND (`+delta+`addedMetadataKeys=~`+kre+` OR `+delta+`modifiedMetadataKeys=~`+kre+`))`,
			`(`+method(vmPowerMethods+`|`+surroundingsMethods)+` AND `+resource(`/(instances|disks|snapshots|images)/`+vm+`(-[^/]*)?$`)+`)`,
			`(`+method(imageMethods)+` AND protoPayload.request.sourceDisk=~`+quote(`/disks/`+vm+`$`)+`)`,
			// A share of any snapshot or image: whether it copies the
			// sandbox's disk is known only by reading it (Sandbox.CopyOf).
			method(copyShareMethods))
	}
	if sb.Network != "" {
		out = append(out, `(`+method(surroundingsMethods)+` AND (`+resource(`/networks/`+regexp.QuoteMeta(sb.Network)+`$`)+
			` OR protoPayload.request.network:`+quote(sb.Network)+`))`)
	}
	pipeline := `(?i)/coopguard[^/]*$|/subscriptions/[^/]*-coopguard-[^/]*$`
	if len(sb.Pipeline) > 0 {
		names := make([]string, len(sb.Pipeline))
		for i, p := range sb.Pipeline {
			names[i] = regexp.QuoteMeta(p)
		}
		pipeline += `|/(` + strings.Join(names, "|") + `)$`
	}
	return append(out,
		`protoPayload.serviceData.policyDelta.auditConfigDeltas:*`,
		method(projectMetadataMethods),
		`(`+method(pipelineMethods)+` AND `+resource(pipeline)+`)`,
		`(`+method(functionPolicyMethods)+` AND `+resource(`/functions/[^/]+$`)+` AND `+resource(pipeline)+`)`)
}
