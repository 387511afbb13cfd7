// Package actions holds the containment actions, one per file, each behind
// the small Action interface. Every action reads current state first and
// reports "already" when there is nothing to do, so Pub/Sub's at-least-once
// delivery never makes a second mutation.
package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// Target is what one response acts on. The responder builds it only after
// checking that the instance carries the coopguard-sandbox label in the
// configured project, or is a sandbox the trusted registry records in its
// own project; actions never widen it.
type Target struct {
	// Project is the sandbox's own project: every action (the VM, its
	// account, its managed secrets, its logs) acts there.
	Project string
	// Home is coopguard's own project, where its job accounts live (""
	// means Project).
	Home string
	Zone string
	// Instance is the VM as read when the response started.
	Instance *computepb.Instance
	Incident incident.Incident
	// Secrets are the ids of the instance's own managed secrets
	// (config.SandboxSecrets), the only ones touched.
	Secrets []string
	// Workspace is the instance's own Anthropic workspace
	// (config.SandboxWorkspace): "" for a sandbox that has none.
	Workspace string
	DryRun    bool
	// AgentStopTimeout bounds how long stop-agents reads the watcher's
	// (unverified) report.
	AgentStopTimeout time.Duration
	// LogWindow is how far before the incident collect-logs looks.
	LogWindow time.Duration
	// NATLogs is the Cloud NAT logging Provision configures (all, errors,
	// off), which collect-logs states beside what it found.
	NATLogs string
	// Now is the clock (tests control it).
	Now func() time.Time
	// Restore lists what a resolve --restore undoes: the secret versions
	// the incident disabled.
	Restore []string
	// Revoker revokes the managed key at its provider; nil when
	// [coopguard.revoke] is off.
	Revoker revoke.Revoker
	// Prior are the outcomes committed so far, by action: what a
	// follow-up step reads of the containment it follows.
	Prior map[string]incident.ActionResult
	// LogReads takes one Cloud Logging read (an entries.list call) from
	// the budget every incident shares under Logging's quota; false: none
	// is left now. Nil: no budget.
	LogReads func() bool
	// ServiceAccount is the sandbox's own service account as coopguard
	// configured (cloud.gcp.service_account) or provisioned it, never read
	// from the VM: the only account disable-identity and enable-identity
	// touch.
	ServiceAccount string
}

// Outcome is what an action did; failures are returned as errors instead.
type Outcome struct {
	// Result is incident.ResultDone, ResultAlready or ResultDryRun, or
	// ResultPending from a follow-up step still waiting.
	Result string
	// Target names what was acted on.
	Target string
	// Detail says what was done or found.
	Detail string
	// Changed lists what was changed (full resource names).
	Changed []string
	// Evidence is set by collect-logs.
	Evidence *incident.Evidence
	// State is kept in the incident store for a follow-up step
	// (incident.ActionResult.State), never shown.
	State string
}

// Action is one containment step.
type Action interface {
	// Name is the action's name in playbooks and reports.
	Name() string
	// Mutates reports whether the action changes anything (dry-run skips
	// the change but still reads).
	Mutates() bool
	// Run checks the current state and acts when needed.
	Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error)
}

// now reads the target's clock.
func (t *Target) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// instanceRef is "zones/Z/instances/N", the target line of reports.
func (t *Target) instanceRef() string {
	return "zones/" + t.Zone + "/instances/" + t.Instance.GetName()
}

// requestID is the Compute requestId of one mutation of one incident:
// concurrent or redelivered responses share it, so Compute applies the
// mutation once.
func requestID(t *Target, action string, extra ...string) *string {
	return gcp.RequestID(append([]string{t.Project, t.Instance.GetName(), t.Incident.ID, action}, extra...)...)
}

// metadataValue returns the instance metadata value of key.
func metadataValue(inst *computepb.Instance, key string) (string, bool) {
	for _, it := range inst.GetMetadata().GetItems() {
		if it.GetKey() == key {
			return it.GetValue(), true
		}
	}
	return "", false
}

// stopped reports whether the instance is stopped or on its way there.
func stopped(inst *computepb.Instance) bool {
	switch inst.GetStatus() {
	case "TERMINATED", "STOPPED", "STOPPING", "SUSPENDED", "SUSPENDING":
		return true
	}
	return false
}

// ErrPermanent marks a follow-up step's failure that looking again cannot
// mend (a snapshot FAILED, a stop refused): the follow-up reports it at
// once instead of retrying until its deadline.
var ErrPermanent = errors.New("looking again cannot mend it")

// permanent wraps err as ErrPermanent.
func permanent(err error) error { return fmt.Errorf("%w (%w)", err, ErrPermanent) }

// errorf wraps err with what failed and on which target.
func errorf(err error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}
