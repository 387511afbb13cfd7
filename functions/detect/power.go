package detect

import (
	"regexp"
	"strings"

	"github.com/cloudcoop/coopguard/shared/events"
)

// Cause is who stopped or started a sandbox VM, as its audit entry says.
type Cause string

// The causes of a VM's stop or start.
const (
	// CauseUser: a person or another account of the project (a cloudcoop
	// user stopping the VM for the night, or starting it in the morning).
	CauseUser Cause = "user"
	// CausePreemption: Compute Engine reclaimed a Spot VM (a System Event
	// entry by system@google.com).
	CausePreemption Cause = "preemption"
	// CauseCoopguard: one of coopguard's own accounts (a containment).
	CauseCoopguard Cause = "coopguard"
	// CauseSandbox: the sandbox's own account, which has no business doing
	// it: the rules treat that as the agent reaching out.
	CauseSandbox Cause = "sandbox"
)

// PreemptedMethod is the methodName of a Spot VM's preemption entry
// (https://cloud.google.com/compute/docs/instances/create-use-spot#detect-preemption).
const PreemptedMethod = "compute.instances.preempted"

// preemptionPrincipal is the principalEmail GCP writes on a preemption.
const preemptionPrincipal = "system@google.com"

// powerMethods stop, start, suspend or resume an instance.
var powerMethods = regexp.MustCompile(`(?i)(^|\.)compute\.instances\.(stop|start|suspend|resume|reset)$`)

// PowerEvent says who stopped or started sb's VM when entry is a genuine
// audit entry of such a change (Genuine is the caller's check), and false
// for any other entry. A preemption counts only as a System Event entry
// by system@google.com: the same method name anywhere else is not GCP's.
// None of these is an incident by itself: the user owns the VM's power
// and preemption is what a Spot VM is; the sandbox's own account is left
// to the rules (RuleSandboxSAWrite).
func PowerEvent(entry events.LogEntry, sb Sandbox) (Cause, bool) {
	a := entry.Audit
	if sb.InstanceName == "" || !strings.HasSuffix(a.ResourceName, "/instances/"+sb.InstanceName) {
		return "", false
	}
	if a.MethodName == PreemptedMethod {
		if a.PrincipalEmail == preemptionPrincipal && strings.HasSuffix(entry.LogName, "/logs/cloudaudit.googleapis.com%2Fsystem_event") {
			return CausePreemption, true
		}
		return "", false
	}
	if !powerMethods.MatchString(a.MethodName) {
		return "", false
	}
	switch p := strings.ToLower(a.PrincipalEmail); {
	case isCoopguard(entry, sb):
		return CauseCoopguard, true
	case p != "" && p == strings.ToLower(sb.ServiceAccount):
		return CauseSandbox, true
	}
	return CauseUser, true
}
