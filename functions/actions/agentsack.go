package actions

import (
	"cmp"
	"context"
	"strconv"
	"strings"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// AgentsAck is the follow-up of stop-agents: it reads, once per look and
// within GCE's guest attribute limits, whether the VM answered the flag.
// The answer is the VM's word (unverified) at best, so this step never
// fails: no answer is reported as missing once the VM is off or the
// configured agent_stop_timeout has passed since the flag.
type AgentsAck struct{}

// Name implements Action.
func (AgentsAck) Name() string { return "agents-ack" }

// Mutates implements Action.
func (AgentsAck) Mutates() bool { return false }

// Run implements Action.
func (AgentsAck) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: t.instanceRef(), Result: incident.ResultDone}
	if t.DryRun {
		out.Result, out.Detail = incident.ResultDryRun, "would read the VM's answer to the flag"
		return out, nil
	}
	flag := t.Prior["stop-agents"]
	w, ok := decodeAckWindow(flag.State)
	if !ok {
		out.Result, out.Detail = incident.ResultAlready, "no agents flag was set: "+cmp.Or(flag.Detail, flag.Reason, "stop-agents did not run")
		return out, nil
	}
	ack, err := guestAck(ctx, c, t)
	if err != nil {
		return out, err
	}
	stale := ""
	if strings.HasPrefix(ack, "stopped") {
		// Anything else ("running <time>" while idle) is no ack.
		why := w.judge(ack)
		if why == "" {
			out.Detail = AckUnverified + ": " + ack
			return out, nil
		}
		stale = AckStale + ": the VM's report " + strconv.Quote(ack) + " " + why
	}
	missing := ""
	switch {
	case stopped(t.Instance) && t.Instance.GetStatus() != "STOPPING":
		missing = "the VM stopped before it reported"
	case !t.now().Before(w.Since.Add(t.AgentStopTimeout)):
		missing = "no report from the VM within " + t.AgentStopTimeout.String()
	default:
		out.Result, out.Detail = incident.ResultPending, "waiting for the VM's answer to the flag"
		return out, nil
	}
	if stale != "" {
		out.Detail = stale
		return out, nil
	}
	out.Detail = AckMissing + ": " + missing + " (nothing waits for it: the VM stop ends the agents)"
	return out, nil
}
