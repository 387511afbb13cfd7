package functions

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// HandleLogEntry handles a Cloud Logging entry from the log sink: the
// detection rules decide whether it is an incident and which playbook runs.
// Entries that match no rule do nothing.
func (e *Env) HandleLogEntry(ctx context.Context, ev event.Event) error {
	received := time.Now()
	ctx, msg, done, err := e.beginEvent(ctx, ev)
	if done {
		return err
	}
	log := logger.FromContext(ctx)
	entry, err := events.DecodeLogEntry(msg.Data)
	if err != nil {
		return acknowledge(ctx, "undecodable log entry", err)
	}
	project, err := guardedProject(ctx, e, entry)
	if err != nil {
		return fmt.Errorf("look up the sandboxes of the project entry %s is about: %w (redelivered)", entry.InsertID, err)
	}
	if err := detect.Genuine(entry, project); err != nil {
		// Acknowledged: it can never become genuine. Logged, since a
		// look-alike reaching the sink may be someone testing the defences.
		log.Warn("log entry ignored: not a Cloud Audit Logs entry of the guarded project", "insertId", entry.InsertID, "logName", entry.LogName, "reason", err.Error())
		return nil
	}
	matches, sandboxProject, instanceID, err := match(ctx, e, entry)
	if err != nil {
		return fmt.Errorf("find the sandbox entry %s concerns: %w (redelivered)", entry.InsertID, err)
	}
	if len(matches) == 0 {
		log.Debug("log entry matched no rule", "insertId", entry.InsertID, "method", entry.Audit.MethodName)
		return nil
	}
	m := matches[0]
	inc := incident.Incident{
		ID:       "log-" + entry.InsertID,
		Source:   sourceOf(msg, incident.SourceLog),
		Trigger:  m.Rule,
		Playbook: m.Playbook,
		Severity: m.Severity,
		// The sandbox's project as the registry records it (match), never
		// what the entry or the VM says.
		Project:   sandboxProject,
		Summary:   entrySummary(entry),
		StartedAt: entry.Timestamp,
		EventID:   msg.MessageID,
		DryRun:    msg.Attributes[AttrDryRun] == "true",
		// The sandbox is the one whose account made the call (or whose
		// key or cage was touched), as match found it — never whatever
		// instance the entry names: an entry naming another VM, written
		// by this sandbox's account, contains this sandbox.
		InstanceID: instanceID,
	}
	// A call by a sandbox's account while its incident is open is one more
	// line on that incident, not a new response (a stolen token's storm of
	// denied calls must not hold up other sandboxes' containment).
	later := respond.Later{Incident: inc, Principal: entry.Audit.PrincipalEmail, Method: entry.Audit.MethodName}
	if rep, ok, err := e.Responder.Append(ctx, e.Responder.SandboxKey(sandboxProject, cmp.Or(instanceID, e.Config.VM.Name)), later); err != nil {
		return fmt.Errorf("append entry %s to its sandbox's open incident: %w (redelivered)", entry.InsertID, err)
	} else if ok {
		log.Debug("log entry appended to the sandbox's open incident", "insertId", entry.InsertID, "incident", rep.Incident.ID, "rule", m.Rule)
		return nil
	}
	_, err = e.Responder.Respond(ctx, inc, received)
	return err
}

// guardedProject is the project whose audit logs the entry must come
// from: the one its log name names when coopguard guards it (its own
// project, or one the registry records a sandbox in), else coopguard's own
// (and detect.Genuine then refuses the entry).
func guardedProject(ctx context.Context, e *Env, entry events.LogEntry) (string, error) {
	p := logProject(entry.LogName)
	if p == "" || p == e.Sandbox.Project {
		return e.Sandbox.Project, nil
	}
	in, err := e.fleet.inProject(ctx, e, p)
	if err != nil || len(in) == 0 {
		return e.Sandbox.Project, err
	}
	return p, nil
}

// logProject is the project in a log name (projects/<p>/logs/…), or "".
func logProject(logName string) string {
	rest, ok := strings.CutPrefix(logName, "projects/")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// match evaluates the rules for the sandbox the entry concerns, found by
// lookup in the sandbox registry (fleetIndex), never by listing: its cost
// does not grow with the fleet. The sandbox whose account made the call
// is the only one judged: its own reads of the managed key are no theft,
// and nothing it does is blamed on another sandbox, in any project. A
// call by any other principal is judged against the sandboxes of the
// project the entry comes from: the configured sandbox first when that is
// coopguard's own project, then each recorded there. instanceID is the
// matched sandbox's instance id, or "" for the configured sandbox.
func match(ctx context.Context, e *Env, entry events.LogEntry) (matches []detect.Match, project, instanceID string, err error) {
	principal := entry.Audit.PrincipalEmail
	copyOf := copySource(ctx, e, entry)
	evaluate := func(sb detect.Sandbox) []detect.Match {
		sb.CopyOf = copyOf
		m, err := e.Rules.Evaluate(ctx, entry, withAlerting(ctx, e, sb, entry))
		if err != nil {
			logger.FromContext(ctx).Warn("some detection rules failed on this entry; they count as no match: fix the rule expressions", "insertId", entry.InsertID, "error", err)
		}
		return m
	}
	configured := e.Sandbox.Project + "/" + e.Sandbox.InstanceName
	logged := logProject(entry.LogName)
	home := logged == "" || logged == e.Sandbox.Project
	if principal == e.Sandbox.ServiceAccount || slices.Contains(e.Sandbox.Coopguard, principal) {
		if !home && principal != e.Sandbox.ServiceAccount {
			return judgeProject(ctx, e, logged, "", evaluate)
		}
		sb, err := withVMState(ctx, e, entry, e.Sandbox)
		if err != nil {
			return nil, "", "", err
		}
		return evaluate(sb), e.Sandbox.Project, "", nil
	}
	own, err := e.fleet.ofAccount(ctx, e, principal)
	if err != nil {
		return nil, "", "", err
	}
	if own != nil && own.key != configured {
		sb, err := withVMState(ctx, e, entry, own.rules)
		if err != nil {
			return nil, "", "", err
		}
		m := evaluate(sb)
		if len(m) > 0 && own.id == "" {
			// Recorded before its VM exists: nothing to contain yet, and
			// the configured sandbox ("") must not take its place.
			logger.FromContext(ctx).Warn("a sandbox's account matched a rule before its VM was built: no VM to contain", "sandbox", own.key, "insertId", entry.InsertID, "rule", m[0].Rule)
			return nil, "", "", nil
		}
		return m, own.project, own.id, nil
	}
	if home {
		if m := evaluate(e.Sandbox); len(m) > 0 {
			return m, e.Sandbox.Project, "", nil
		}
	}
	return judgeProject(ctx, e, cmp.Or(logged, e.Sandbox.Project), configured, evaluate)
}

// judgeProject evaluates the rules against each sandbox recorded in
// project but the one addressed skip, and returns the first matches with
// that sandbox's project and instance id.
func judgeProject(ctx context.Context, e *Env, project, skip string, evaluate func(detect.Sandbox) []detect.Match) ([]detect.Match, string, string, error) {
	in, err := e.fleet.inProject(ctx, e, project)
	if err != nil {
		return nil, "", "", err
	}
	for _, o := range in {
		if o.key == skip || o.id == "" {
			continue // the configured sandbox was judged; no VM yet
		}
		if m := evaluate(o.rules); len(m) > 0 {
			return m, o.project, o.id, nil
		}
	}
	return nil, "", "", nil
}

// entrySummary describes the call without any payload text.
func entrySummary(e events.LogEntry) string {
	a := e.Audit
	if a.MethodName == "" {
		return e.LogName
	}
	s := a.MethodName + " on " + a.ResourceName + " by " + firstNonEmpty(a.PrincipalEmail, "an unknown principal")
	if a.Status.Code != 0 {
		s += " (denied: code " + itoa(a.Status.Code) + ")"
	}
	return s
}

// sandboxForRules is what the detection rules know about the sandbox sb
// (the configured one, or one Provision built under another name): its
// account, network, resources, secrets and canary, and coopguard's own
// accounts.
func sandboxForRules(cfg *config.Config, sb *provisioner.Sandbox) detect.Sandbox {
	return detect.Sandbox{
		Project:        sb.Project,
		ServiceAccount: sb.ServiceAccount,
		Network:        sb.Network(),
		SubnetCIDR:     sb.SubnetCIDR,
		InstanceName:   sb.Name,
		Secrets:        sb.Secrets,
		Resources: []string{sb.Network(), sb.Subnet(), sb.Router(),
			sb.FirewallDenyIngress(), sb.FirewallIAPSSH(), sb.FirewallQuarantine(), sb.Sink(), sb.EgressRoute(), sb.WatchSink()},
		Coopguard: cfg.CoopguardAccounts(),
		Canaries:  nonEmpty(cfg.CanarySecret(sb.Name)),
		Pipeline: nonEmpty(cfg.Coopguard.Topics.Alerts, cfg.Coopguard.Topics.Logs, cfg.Coopguard.Topics.Rotation,
			cfg.Coopguard.Topics.Incidents, cfg.Coopguard.Topics.FollowUp),
	}
}

// nonEmpty returns the non-empty strings of ss.
func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
