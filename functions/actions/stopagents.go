package actions

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// StopAgents asks the VM's watcher to stop the agents: it sets metadata
// coopguard-agents="stop <incident id>" and reads, within GCE's guest
// attribute limits, whether the VM reported back. Everything inside the
// VM belongs to whoever controls it, so this is a courtesy: nothing waits
// for it, and a report from the VM is shown as such, never as proof.
type StopAgents struct{}

// Name implements Action.
func (StopAgents) Name() string { return "stop-agents" }

// Mutates implements Action.
func (StopAgents) Mutates() bool { return true }

// ackSchedule is how long stop-agents waits before each guest attribute
// read after the flag: GCE allows a VM's guest attributes to be read in
// bursts of 3 and 10 times a minute, so one read before the flag, two
// quick ones after it, then one every 6 s.
var ackSchedule = []time.Duration{500 * time.Millisecond, 2 * time.Second}

// ackEvery spaces the reads after the quick ones.
const ackEvery = 6 * time.Second

// Run implements Action.
func (a StopAgents) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	return withFingerprint(ctx, c, t, func(inst *computepb.Instance) (Outcome, error) {
		out := Outcome{Target: t.instanceRef()}
		if stopped(inst) {
			out.Result, out.Detail = incident.ResultAlready, "VM is "+inst.GetStatus()+": no agent runs"
			return out, nil
		}
		flag := watcher.StopValue(t.Incident.ID)
		// An ack counts only if written after the flag: from when this
		// run set it, or, if an earlier delivery did, from the incident.
		w := ackWindow{id: t.Incident.ID, since: t.Incident.StartedAt}
		out.Result = incident.ResultAlready
		if v, _ := metadataValue(inst, watcher.MetadataKey); v != flag {
			out.Detail = watcher.MetadataKey + "=" + flag
			if t.DryRun {
				out.Result = incident.ResultDryRun
				return out, nil
			}
			// What the attribute holds before the flag exists was not
			// written in answer to it, whatever date it carries.
			w.before, _ = guestAck(ctx, c, t)
			w.since = t.now()
			if err := setAgentsFlag(ctx, c, t, inst, flag); err != nil {
				return out, err
			}
			out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
		}
		out.Detail = "flag " + watcher.MetadataKey + "=" + flag + " set; " + awaitAck(ctx, c, t, w)
		return out, nil
	})
}

// Ack verdicts, the words reports use: the VM's report is its word
// (unverified) at best; one that does not answer this flag is stale, and
// no report at all is missing. None is ever a confirmation.
const (
	AckUnverified = "reported by the VM (unverified)"
	AckStale      = "ack stale (ignored)"
	AckMissing    = "ack missing"
)

// ackWindow is what an ack must match to count.
type ackWindow struct {
	// id is the incident the flag names.
	id string
	// since is when the flag was set (an ack is dated no earlier).
	since time.Time
	// before is the attribute's value before this run set the flag.
	before string
}

// awaitAck reads the watcher's guest attribute on ackSchedule until it
// answers this flag, the VM is off, or AgentStopTimeout passes, and says
// what it found. It never fails the action, and nothing waits for it: the
// VM stop is requested beside it.
func awaitAck(ctx context.Context, c *gcp.Clients, t *Target, w ackWindow) string {
	ctx, cancel := context.WithTimeout(ctx, t.AgentStopTimeout)
	defer cancel()
	stale := ""
	end := func(missing string) string {
		if stale != "" {
			return stale
		}
		return AckMissing + ": " + missing + " (nothing waits for it: the VM stop ends the agents)"
	}
	for i := 0; ; i++ {
		pause := ackEvery
		if i < len(ackSchedule) {
			pause = ackSchedule[i]
		}
		select {
		case <-ctx.Done():
			return end("no report from the VM within " + t.AgentStopTimeout.String())
		case <-time.After(pause):
		}
		ack, err := guestAck(ctx, c, t)
		switch {
		case err == nil && strings.HasPrefix(ack, "stopped"):
			// Anything else ("running <time>" while idle) is no ack.
			why := w.judge(ack)
			if why == "" {
				return AckUnverified + ": " + ack
			}
			stale = AckStale + ": the VM's report " + strconv.Quote(ack) + " " + why
		case err != nil && ctx.Err() != nil:
			continue
		}
		if off, _ := vmOff(ctx, c, t); off {
			return end("the VM stopped before it reported")
		}
	}
}

// judge says why ack does not answer the flag, or "" when it does: it must
// read "stopped <incident id> <unix time>" for this incident, differ from
// what the attribute held before the flag, and be dated no earlier than
// the flag (to the second). The VM's clock is as good as its word, which is
// why even a good ack stays unverified.
func (w ackWindow) judge(ack string) string {
	f := strings.Fields(ack)
	if len(f) != 3 || f[0] != "stopped" {
		return "is not \"stopped <incident id> <unix time>\""
	}
	if f[1] != w.id {
		return "names incident " + strconv.Quote(f[1]) + ", not " + w.id
	}
	at, err := strconv.ParseInt(f[2], 10, 64)
	switch {
	case err != nil:
		return "carries no unix time"
	case w.before != "" && ack == w.before:
		return "was there before the flag was set"
	case at < w.since.Unix():
		return "is dated " + time.Unix(at, 0).UTC().Format(time.RFC3339) + ", before the flag (" + w.since.UTC().Format(time.RFC3339) + ")"
	}
	return ""
}

// vmOff reports whether the VM is no longer running.
func vmOff(ctx context.Context, c *gcp.Clients, t *Target) (bool, error) {
	inst, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName()})
	if err != nil {
		return false, err
	}
	return stopped(inst) && inst.GetStatus() != "STOPPING", nil
}

// rateLimited reports whether err is Compute's 403 rateLimitExceeded.
func rateLimited(err error) bool {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusForbidden {
		return false
	}
	for _, e := range gerr.Errors {
		if e.Reason == "rateLimitExceeded" {
			return true
		}
	}
	return strings.Contains(gerr.Message, "rateLimitExceeded")
}

// guestAck reads the watcher's guest attribute; "" when it has none. A
// read over GCE's limit is no answer yet, not a failure.
func guestAck(ctx context.Context, c *gcp.Clients, t *Target) (string, error) {
	ga, err := c.Instances.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName(),
		VariableKey: proto.String(watcher.GuestNamespace + "/" + watcher.GuestKey),
	})
	if retry.IsNotFound(err) || rateLimited(err) {
		return "", nil
	}
	if err != nil {
		return "", errorf(err, "read guest attributes of %s", t.instanceRef())
	}
	return ga.GetVariableValue(), nil
}
