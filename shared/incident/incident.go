// Package incident defines what flows through the responder: an Incident
// (what happened, decoded from an event), and the Report of what coopguard
// did about it. Data flows one way: event → Incident → Plan → actions →
// Report.
package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Sources of incidents.
const (
	SourceAlert   = "alert"   // a Cloud Monitoring incident
	SourceLog     = "log"     // a log-sink entry matched by a detection rule
	SourceDrill   = "drill"   // coopguard drill
	SourcePosture = "posture" // posture drift found by a scheduled check
	SourceCost    = "cost"    // a budget notification or the model usage report
)

// Playbooks.
const (
	PlaybookContain    = "contain"
	PlaybookQuarantine = "quarantine"
	PlaybookNotify     = "notify"
)

// Incident is one thing that went wrong, as the responder understands it.
type Incident struct {
	// ID is stable across redeliveries of the same event.
	ID string `json:"id"`
	// Source is alert, log, drill or posture.
	Source string `json:"source"`
	// Trigger is the alert policy's or detection rule's name.
	Trigger string `json:"trigger"`
	// Playbook is contain, quarantine or notify.
	Playbook string `json:"playbook"`
	// Severity is a Cloud Logging severity name.
	Severity string `json:"severity"`
	// Project and Zone locate the instance.
	Project string `json:"project"`
	Zone    string `json:"zone,omitempty"`
	// InstanceID is the numeric instance id from the event (may be empty
	// for log entries about the project rather than the VM).
	InstanceID string `json:"instanceId,omitempty"`
	// Summary is a one-line human description.
	Summary string `json:"summary,omitempty"`
	// URL links to the alert or log entry in the console.
	URL string `json:"url,omitempty"`
	// StartedAt is when the incident began (the event's time).
	StartedAt time.Time `json:"startedAt"`
	// EventID is the CloudEvent or Pub/Sub message id that carried it.
	EventID string `json:"eventId,omitempty"`
	// DryRun requests a report of what would happen, changing nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// LabelValue is ID in the form a GCE label value accepts (lowercase
// letters, digits, '-' and '_', at most 63 characters); long or unusual ids
// keep a hash so that two incidents never share a label value.
func (i Incident) LabelValue() string {
	var b strings.Builder
	for _, r := range strings.ToLower(i.ID) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	v := b.String()
	if v == strings.ToLower(i.ID) && len(v) <= 63 {
		return v
	}
	h := sha256.Sum256([]byte(i.ID))
	if len(v) > 50 {
		v = v[:50]
	}
	return v + "-" + hex.EncodeToString(h[:])[:12]
}

// Results of an action.
const (
	ResultDone    = "done"
	ResultAlready = "already"
	ResultDryRun  = "dry-run"
	ResultFailed  = "failed"
	ResultSkipped = "skipped"
	// ResultPending is a follow-up step still under way (a VM stopping, a
	// snapshot CREATING): the next follow-up looks again.
	ResultPending = "pending"
)

// ActionResult is one action's line in a report.
type ActionResult struct {
	// Action is the action's name, e.g. stop-vm.
	Action string `json:"action"`
	// Target is what it acted on (instance, secret version, snapshot).
	Target string `json:"target,omitempty"`
	// Result is done, already, dry-run, failed or skipped.
	Result string `json:"result"`
	// Reason says why it failed or was skipped, or what "already" found.
	Reason string `json:"reason,omitempty"`
	// Detail says what was done (e.g. which versions were disabled).
	Detail string `json:"detail,omitempty"`
	// Changed lists the resources the action changed (full names), so
	// `coopguard resolve --restore` undoes exactly that.
	Changed []string `json:"changed,omitempty"`
	// Retries lists the transient failures that were retried, each with
	// its time: what failed and when it recovered.
	Retries []string `json:"retries,omitempty"`
	// State is what a follow-up step needs from the containment step it
	// follows (e.g. the agents flag's time and the guest attribute read
	// before it). Kept in the incident store, never shown.
	State string `json:"-"`
	// Start and End bound the action; Seconds is their difference.
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
}

// String renders the result as DESIGN.md spells it: "failed: reason".
func (a ActionResult) String() string {
	if a.Result == ResultFailed || a.Result == ResultSkipped {
		return a.Result + ": " + a.Reason
	}
	return a.Result
}

// ReportLogID is the Cloud Logging log that holds the copies of incident
// reports (package report writes them; Provision's incident alert policy
// matches them).
const ReportLogID = "coopguard-incidents"

// Outcomes of a whole response.
const (
	OutcomeContained   = "contained"    // every containment action done or already; the follow-up may still run
	OutcomeComplete    = "complete"     // contained, and the follow-up (snapshot, evidence) finished
	OutcomeIncomplete  = "incomplete"   // some action failed; redelivery finishes it (containment) or the follow-up gave up
	OutcomeRefused     = "refused"      // the target is not ours; nothing was done
	OutcomeIgnored     = "ignored"      // closed incident, test notification, no rule matched
	OutcomeDryRun      = "dry-run"      // planned only
	OutcomeNotified    = "notified"     // notify playbook
	OutcomeResolved    = "resolved"     // closed by coopguard resolve
	OutcomeRotationDue = "rotation-due" // a managed secret needs a new version
)

// Where evidence comes from, as a report labels it. The trust model: the
// VM and everything it writes belong to the attacker; what Google Cloud
// writes about the VM's account and traffic does not.
const (
	FromOutside = "from Google Cloud (outside the VM)"
	FromVM      = "written from inside the VM: untrusted"
)

// Count is one name and how often it occurred.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Denied is how many of Count were refused (audited calls only).
	Denied int `json:"denied,omitempty"`
}

// Evidence is what the logs of the incident window show, by source. It
// holds counts, times and names, never payload text.
type Evidence struct {
	// From and To bound the incident window.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Audit is the sandbox account's own calls (Cloud Audit Logs).
	Audit *AuditEvidence `json:"audit,omitempty"`
	// NAT is where the VM connected to (Cloud NAT's logs).
	NAT *NATEvidence `json:"nat,omitempty"`
	// VM is the VM's own log entries.
	VM *LogExcerpt `json:"vm,omitempty"`
}

// Entries is how many entries the evidence holds, over all sources.
func (e *Evidence) Entries() int {
	if e == nil {
		return 0
	}
	n := 0
	if e.Audit != nil {
		n += e.Audit.Entries
	}
	if e.NAT != nil {
		n += e.NAT.Entries
	}
	if e.VM != nil {
		n += e.VM.Entries
	}
	return n
}

// AuditEvidence summarises the Cloud Audit Logs entries whose principal is
// the sandbox's service account: what it tried, allowed or denied.
type AuditEvidence struct {
	// Source is FromOutside.
	Source    string    `json:"source"`
	Principal string    `json:"principal"`
	Entries   int       `json:"entries"`
	Allowed   int       `json:"allowed"`
	Denied    int       `json:"denied"`
	First     time.Time `json:"first,omitzero"`
	Last      time.Time `json:"last,omitzero"`
	// Methods are the most frequent methods, most frequent first.
	Methods []Count `json:"methods,omitempty"`
	// Truncated says the window held more entries than were read.
	Truncated bool `json:"truncated,omitempty"`
}

// NATEvidence summarises Cloud NAT's translation log entries of the VM:
// the connections it opened to the outside.
type NATEvidence struct {
	// Source is FromOutside.
	Source string `json:"source"`
	// Logging is the NAT logging coopguard configures (all, errors, off);
	// Note says why there may be nothing to see.
	Logging string `json:"logging,omitempty"`
	Note    string `json:"note,omitempty"`
	Entries int    `json:"entries"`
	// Translated counts connections made (allocation_status OK), Dropped
	// those the NAT dropped.
	Translated int       `json:"translated"`
	Dropped    int       `json:"dropped"`
	First      time.Time `json:"first,omitzero"`
	Last       time.Time `json:"last,omitzero"`
	// Destinations are the most frequent ip:port/protocol, most frequent
	// first.
	Destinations []Count `json:"destinations,omitempty"`
	Truncated    bool    `json:"truncated,omitempty"`
}

// LogExcerpt summarises the VM's own log entries of the incident window
// without their payloads.
type LogExcerpt struct {
	// Source is FromVM.
	Source     string         `json:"source,omitempty"`
	Filter     string         `json:"filter"`
	Entries    int            `json:"entries"`
	BySeverity map[string]int `json:"bySeverity,omitempty"`
	// First lists a few entries: time, severity, log.
	First     []string `json:"first,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Report is the one structured record of an incident.
type Report struct {
	Incident Incident `json:"incident"`
	// Instance is the name of the VM acted on (empty when refused early).
	Instance string `json:"instance,omitempty"`
	// Outcome is contained, complete, incomplete, refused, ignored,
	// dry-run or notified.
	Outcome string `json:"outcome"`
	// FollowUp is the state of what runs after containment holds (waiting
	// for the VM to stop, the snapshot, the evidence): FollowUpRunning,
	// FollowUpDone, or empty when the playbook has none.
	FollowUp string `json:"followUp,omitempty"`
	// Reason explains refused and ignored outcomes.
	Reason  string         `json:"reason,omitempty"`
	Actions []ActionResult `json:"actions"`
	// Evidence is what collect-logs read of the incident window.
	Evidence   *Evidence `json:"evidence,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// ContainmentSeconds is event received → containment held: egress
	// cut, key unusable, VM stop requested (the follow-up is not in it).
	ContainmentSeconds float64 `json:"containmentSeconds"`
	// CriticalPathSeconds is the longest chain of the plan's actions,
	// each weighted by its measured time: the least any schedule needs.
	CriticalPathSeconds float64 `json:"criticalPathSeconds,omitempty"`
	// ResolvedBy and ResolvedAt record `coopguard resolve`.
	ResolvedBy string    `json:"resolvedBy,omitempty"`
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	// Explanation is the cause an operator found, recorded with
	// `coopguard resolve --note`: `coopguard resume` needs one, or
	// --force with a reason.
	Explanation string `json:"explanation,omitempty"`
	// ResumedBy and ResumedAt record `coopguard resume`; ResumeForced is
	// the reason given with --force when the cause was unexplained.
	ResumedBy    string    `json:"resumedBy,omitempty"`
	ResumedAt    time.Time `json:"resumedAt,omitzero"`
	ResumeForced string    `json:"resumeForced,omitempty"`
	// Appended counts the later events about the sandbox appended to this
	// incident while it was open (see Appended).
	Appended *Appended `json:"appended,omitempty"`
}

// States of a report's follow-up.
const (
	FollowUpRunning = "running"
	FollowUpDone    = "done"
)

// Failed reports whether any action failed (so the event should be
// redelivered).
func (r *Report) Failed() bool {
	for _, a := range r.Actions {
		if a.Result == ResultFailed {
			return true
		}
	}
	return false
}

// Severity is the Cloud Logging severity of the report's log entry.
func (r *Report) Severity() string {
	switch r.Outcome {
	case OutcomeIncomplete:
		return "ERROR"
	case OutcomeRefused, OutcomeRotationDue:
		return "WARNING"
	case OutcomeIgnored, OutcomeResolved:
		return "INFO"
	}
	if r.Incident.Severity != "" {
		return r.Incident.Severity
	}
	return "NOTICE"
}
