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
}

// Plan is the DAG of a playbook, steps in a valid order.
type Plan struct {
	Playbook string
	Steps    []Step
}

// plans is the one table of playbooks.
var plans = map[string][]Step{
	// contain: everything that needs nothing from the VM at once — label,
	// cut egress, disable the key and revoke it at its provider, request
	// the VM stop — and the agents flag beside them as a courtesy that
	// nothing waits for; once the VM is TERMINATED, the snapshot and the
	// logs.
	incident.PlaybookContain: {
		{Action: "label-incident"},
		{Action: "quarantine-tag"},
		{Action: "disable-secrets"},
		{Action: "revoke-key"},
		{Action: "stop-vm"},
		{Action: "stop-agents"},
		{Action: "snapshot-disk", After: []string{"stop-vm"}},
		{Action: "collect-logs", After: []string{"stop-vm"}},
	},
	// quarantine: egress cut, agents stopped, key disabled and revoked at
	// its provider; the VM stays up.
	incident.PlaybookQuarantine: {
		{Action: "label-incident"},
		{Action: "quarantine-tag"},
		{Action: "stop-agents"},
		{Action: "disable-secrets"},
		{Action: "revoke-key"},
		{Action: "collect-logs"},
	},
	// notify: report only.
	incident.PlaybookNotify: {
		{Action: "collect-logs"},
	},
}

// For returns the plan of the named playbook.
func For(name string) (Plan, error) {
	steps, ok := plans[name]
	if !ok {
		return Plan{}, fmt.Errorf("unknown playbook %q: use contain, quarantine or notify", name)
	}
	return Plan{Playbook: name, Steps: steps}, nil
}

// Known reports whether name is a playbook.
func Known(name string) bool {
	_, ok := plans[name]
	return ok
}

// Restore is the plan of `coopguard resolve --restore`: undo a false
// positive's containment, starting the VM last so it comes up with its key
// enabled and the agents allowed to run. It is not a playbook an alert or
// rule can name.
func Restore() Plan {
	return Plan{Playbook: "restore", Steps: []Step{
		{Action: "enable-secrets"},
		{Action: "clear-agents-flag"},
		{Action: "remove-quarantine-tag"},
		{Action: "clear-incident-label"},
		{Action: "start-vm", After: []string{"enable-secrets", "clear-agents-flag", "remove-quarantine-tag", "clear-incident-label"}},
	}}
}
