// Package playbook turns an incident's playbook name into a Plan: a small
// DAG of actions. It plans only; it calls nothing.
package playbook

import (
	"fmt"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// Step is one action of a plan and the steps it runs after. "After" orders
// steps; it does not make a step depend on the others' success: one failed
// action never stops the others.
type Step struct {
	Action string
	After  []string
	// Holds marks the steps that make the sandbox harmless (egress cut,
	// key unusable, VM stop requested): time to containment is the moment
	// the last of them held, not the end of a courtesy step.
	Holds bool
}

// Plan is the DAG of a playbook, steps in a valid order. Steps are the
// containment: the event function answers once they are done. FollowUp
// runs after, carried by the scheduled follow-up (FinishIncidents), never
// by a held request: each of its steps looks once and reports pending
// until what it waits for (a VM stopping, a snapshot) is there. A
// follow-up step's After may name containment steps or follow-up steps.
type Plan struct {
	Playbook string
	Steps    []Step
	FollowUp []Step
}

// plans is the one table of playbooks.
var plans = map[string]Plan{
	// contain: everything that needs nothing from the VM at once — label,
	// cut egress, disable the key and revoke it at its provider, request
	// the VM stop, disable the sandbox's account (its stolen tokens die) —
	// and the agents flag beside them as a courtesy that
	// nothing waits for. The follow-up: the VM's (unverified) answer to
	// the flag, TERMINATED, then the snapshot and the logs.
	incident.PlaybookContain: {
		Steps: []Step{
			{Action: "label-incident"},
			{Action: "quarantine-tag", Holds: true},
			{Action: "disable-secrets", Holds: true},
			{Action: "revoke-key", Holds: true},
			{Action: "stop-vm", Holds: true},
			{Action: "stop-agents"},
			{Action: "disable-identity", Holds: true},
		},
		FollowUp: []Step{
			{Action: "agents-ack"},
			{Action: "vm-terminated"},
			{Action: "snapshot-disk", After: []string{"vm-terminated"}},
			{Action: "collect-logs", After: []string{"vm-terminated"}},
		},
	},
	// quarantine: egress cut, agents stopped, key disabled and revoked at
	// its provider, the sandbox's account disabled; the VM stays up. The follow-up: the VM's answer, the
	// logs.
	incident.PlaybookQuarantine: {
		Steps: []Step{
			{Action: "label-incident"},
			{Action: "quarantine-tag", Holds: true},
			{Action: "stop-agents"},
			{Action: "disable-secrets", Holds: true},
			{Action: "revoke-key", Holds: true},
			{Action: "disable-identity", Holds: true},
		},
		FollowUp: []Step{
			{Action: "agents-ack"},
			{Action: "collect-logs"},
		},
	},
	// notify: report only; the follow-up collects the logs.
	incident.PlaybookNotify: {
		FollowUp: []Step{
			{Action: "collect-logs"},
		},
	},
}

// For returns the plan of the named playbook.
func For(name string) (Plan, error) {
	p, ok := plans[name]
	if !ok {
		return Plan{}, fmt.Errorf("unknown playbook %q: use contain, quarantine or notify", name)
	}
	p.Playbook = name
	return p, nil
}

// All is the plan's steps, containment then follow-up.
func (p Plan) All() []Step {
	return append(append([]Step{}, p.Steps...), p.FollowUp...)
}

// Known reports whether name is a playbook.
func Known(name string) bool {
	_, ok := plans[name]
	return ok
}

// Restore is the plan of `coopguard resolve --restore`: undo a false
// positive's containment, starting the VM last so it comes up with its key
// and its identity enabled and the agents allowed to run. It is not a playbook an alert or
// rule can name.
func Restore() Plan {
	return Plan{Playbook: "restore", Steps: []Step{
		{Action: "enable-secrets"},
		{Action: "clear-agents-flag"},
		{Action: "remove-quarantine-tag"},
		{Action: "clear-incident-label"},
		{Action: "enable-identity"},
		{Action: "start-vm", After: []string{"enable-secrets", "clear-agents-flag", "remove-quarantine-tag", "clear-incident-label", "enable-identity"}},
	}}
}
