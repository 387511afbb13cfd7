package actions

import (
	"context"
	"encoding/json"
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
// coopguard-agents="stop <incident id>". Everything inside the VM belongs
// to whoever controls it, so this is a courtesy: nothing waits for it. The
// follow-up's agents-ack reads whether the VM reported back, and a report
// from the VM is shown as such, never as proof.
type StopAgents struct{}

// Name implements Action.
func (StopAgents) Name() string { return "stop-agents" }

// Mutates implements Action.
func (StopAgents) Mutates() bool { return true }

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
		w := ackWindow{ID: t.Incident.ID, Since: t.Incident.StartedAt}
		out.Result = incident.ResultAlready
		if v, _ := metadataValue(inst, watcher.MetadataKey); v != flag {
			out.Detail = watcher.MetadataKey + "=" + flag
			if t.DryRun {
				out.Result = incident.ResultDryRun
				return out, nil
			}
			// What the attribute holds before the flag exists was not
			// written in answer to it, whatever date it carries.
			w.Before, _ = guestAck(ctx, c, t)
			w.Since = t.now()
			if err := setAgentsFlag(ctx, c, t, inst, flag); err != nil {
				return out, err
			}
			out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
		}
		out.Detail = "flag " + watcher.MetadataKey + "=" + flag + " set; the VM's answer is read by the follow-up (agents-ack)"
		out.State = w.encode()
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

// ackWindow is what an ack must match to count; stop-agents keeps it in
// its outcome's State for agents-ack.
type ackWindow struct {
	// ID is the incident the flag names.
	ID string `json:"id"`
	// Since is when the flag was set (an ack is dated no earlier).
	Since time.Time `json:"since"`
	// Before is the attribute's value before this run set the flag.
	Before string `json:"before,omitempty"`
}

func (w ackWindow) encode() string {
	b, _ := json.Marshal(w)
	return string(b)
}

// decodeAckWindow reads stop-agents' State; ok is false when it holds none.
func decodeAckWindow(state string) (w ackWindow, ok bool) {
	return w, state != "" && json.Unmarshal([]byte(state), &w) == nil && w.ID != ""
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
	if f[1] != w.ID {
		return "names incident " + strconv.Quote(f[1]) + ", not " + w.ID
	}
	at, err := strconv.ParseInt(f[2], 10, 64)
	switch {
	case err != nil:
		return "carries no unix time"
	case w.Before != "" && ack == w.Before:
		return "was there before the flag was set"
	case at < w.Since.Unix():
		return "is dated " + time.Unix(at, 0).UTC().Format(time.RFC3339) + ", before the flag (" + w.Since.UTC().Format(time.RFC3339) + ")"
	}
	return ""
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
