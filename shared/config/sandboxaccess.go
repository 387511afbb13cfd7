package config

import (
	"regexp"
	"slices"
	"strings"
)

// SandboxRoles are the custom roles (ids) of the jobs that change a
// sandbox's own VM or boot disk, by account: each is bound under the
// condition SandboxCondition builds, naming every sandbox's instance and
// disk, so no coopguard job may stop, start, tag, label or snapshot any
// other VM of the project. deploy binds them for the configured sandbox;
// Provision adds each sandbox it builds under another name.
var SandboxRoles = map[string]string{
	AccountResponder: "coopguardResponderSandbox",
	AccountRestorer:  "coopguardRestorerSandbox",
}

// IdentityRoles are the custom roles (ids) of the jobs that change a
// sandbox's own service account, by account: the responder disables it and
// deletes its user-managed keys, the restorer enables it again, the
// rotator reads whether it is disabled before adding a key. Each is
// bound on the sandbox account's own IAM policy, never on the project:
// deploy binds them on the configured sandbox's account, Provision on the
// account of each sandbox it builds under another name.
var IdentityRoles = map[string]string{
	AccountResponder: "coopguardResponderIdentity",
	AccountRestorer:  "coopguardRestorerIdentity",
	AccountRotator:   "coopguardRotatorIdentity",
}

// SandboxConditionTitle is the title of the condition on those bindings.
const SandboxConditionTitle = "coopguard-sandboxes"

// SandboxCondition is the IAM condition expression that holds on the
// instances and boot disks (named after their instance) of the sandboxes
// names in project's zone: Compute Engine resource names carry the project
// id (https://cloud.google.com/iam/docs/conditions-resource-attributes).
// Names are sorted and deduplicated, so the expression for a set of
// sandboxes is always the same.
func SandboxCondition(project, zone string, names []string) string {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	var terms []string
	for _, n := range names {
		base := "projects/" + project + "/zones/" + zone + "/"
		terms = append(terms, `resource.name == "`+base+`instances/`+n+`"`, `resource.name == "`+base+`disks/`+n+`"`)
	}
	return strings.Join(terms, " || ")
}

var sandboxTerm = regexp.MustCompile(`resource\.name == "projects/([^/"]+)/zones/([^/"]+)/instances/([^/"]+)"`)

// SandboxesIn returns the sandboxes of project's zone an expression made
// by SandboxCondition names.
func SandboxesIn(expression, project, zone string) []string {
	var out []string
	for _, m := range sandboxTerm.FindAllStringSubmatch(expression, -1) {
		if m[1] == project && m[2] == zone {
			out = append(out, m[3])
		}
	}
	return out
}
