package config

import "strings"

// SandboxRoles are the custom roles (ids) of the jobs that change a
// sandbox's own VM or boot disk, by account: each is bound under the
// condition SandboxCondition builds, naming every sandbox's instance and
// disk, so no coopguard job may stop, start, tag, label or snapshot any
// other VM of the project. deploy binds them for the configured sandbox;
// Provision adds each sandbox it builds under another name.
var SandboxRoles = roleIDsOf(RoleSandbox)

// IdentityRoles are the custom roles (ids) of the jobs that change a
// sandbox's own service account, by account: the responder disables it and
// deletes its user-managed keys, the restorer enables it again, the
// rotator reads whether it is disabled before adding a key. Each is
// bound on the sandbox account's own IAM policy, never on the project:
// deploy binds them on the configured sandbox's account, Provision on the
// account of each sandbox it builds under another name.
var IdentityRoles = roleIDsOf(RoleIdentity)

// sandboxes is the template of the sandboxes' condition.
var sandboxes = iamCondition("sandboxes")

// SandboxConditionTitle is the title of the condition on those bindings;
// SandboxConditionDescription its description (iamconditions/sandboxes).
var (
	SandboxConditionTitle       = sandboxes.title
	SandboxConditionDescription = sandboxes.description
)

// SandboxCondition is the IAM condition expression that holds on the
// instances and boot disks (named after their instance) of the sandboxes
// names in project's zone, in that order, each once
// (iamconditions/sandboxes, which deploy/deploy.sh builds from too).
func SandboxCondition(project, zone string, names []string) string {
	expr := ""
	for _, n := range names {
		expr = WidenSandboxCondition(expr, project, zone, n)
	}
	return expr
}

// sandboxTerm is the part of the condition naming sandbox name.
func sandboxTerm(project, zone, name string) string {
	return fill(sandboxes.term, "project", project, "zone", zone, "name", name)
}

// SandboxNamed reports whether expression names sandbox name of project's
// zone (holds its term).
func SandboxNamed(expression, project, zone, name string) bool {
	return strings.Contains(expression, sandboxTerm(project, zone, name))
}

// WidenSandboxCondition returns expression naming sandbox name of
// project's zone too; expression itself when it names it already.
func WidenSandboxCondition(expression, project, zone, name string) string {
	return widen(expression, sandboxTerm(project, zone, name))
}
