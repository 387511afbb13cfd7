package actions

import (
	"context"
	"errors"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// StopAgents tells the VM's watcher to kill the agents' tmux sessions: it
// sets metadata coopguard-agents=stop and waits, bounded, for the watcher's
// guest attribute coopguard/agents = "stopped <time>".
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
		if v, _ := metadataValue(inst, watcher.MetadataKey); v == "stop" {
			ack, err := guestAck(ctx, c, t)
			if err != nil {
				return out, err
			}
			if strings.HasPrefix(ack, "stopped") {
				out.Result, out.Detail = incident.ResultAlready, "watcher confirmed earlier: "+ack
				return out, nil
			}
			// The flag is set but unconfirmed: wait for the watcher below
			// without setting it again.
		} else {
			out.Detail = watcher.MetadataKey + "=stop"
			if t.DryRun {
				out.Result = incident.ResultDryRun
				return out, nil
			}
			if err := setAgentsFlag(ctx, c, t, inst, "stop"); err != nil {
				return out, err
			}
		}
		out.Result = incident.ResultDone
		ack, err := waitAck(ctx, c, t)
		switch {
		case err == nil:
			out.Detail = "watcher confirmed: " + ack
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			out.Detail = "stop flag set; the watcher did not confirm within " + t.AgentStopTimeout.String() +
				" (stopping the VM ends the agents anyway; check the coopguard-watcher service on the VM)"
		default:
			return out, err
		}
		return out, nil
	})
}

// setAgentsFlag sets coopguard-agents to value, keeping every other item.
func setAgentsFlag(ctx context.Context, c *gcp.Clients, t *Target, inst *computepb.Instance, value string) error {
	var items []*computepb.Items
	found := false
	for _, it := range inst.GetMetadata().GetItems() {
		if it.GetKey() == watcher.MetadataKey {
			it = &computepb.Items{Key: it.Key, Value: proto.String(value)}
			found = true
		}
		items = append(items, it)
	}
	if !found {
		items = append(items, &computepb.Items{Key: proto.String(watcher.MetadataKey), Value: proto.String(value)})
	}
	err := gcp.Wait(ctx)(c.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: inst.GetName(),
		RequestId: requestID(t, "agents-"+value, inst.GetMetadata().GetFingerprint()),
		MetadataResource: &computepb.Metadata{
			Fingerprint: inst.GetMetadata().Fingerprint,
			Items:       items,
		},
	}))
	if err != nil {
		return errorf(err, "set metadata %s=%s on %s", watcher.MetadataKey, value, t.instanceRef())
	}
	return nil
}

// guestAck reads the watcher's guest attribute; "" when it has none.
func guestAck(ctx context.Context, c *gcp.Clients, t *Target) (string, error) {
	ga, err := c.Instances.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{
		Project: t.Project, Zone: t.Zone, Instance: t.Instance.GetName(),
		VariableKey: proto.String(watcher.GuestNamespace + "/" + watcher.GuestKey),
	})
	if retry.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", errorf(err, "read guest attributes of %s", t.instanceRef())
	}
	return ga.GetVariableValue(), nil
}

// waitAck polls the guest attribute until it says stopped or the timeout
// passes. The watcher acts within milliseconds of the metadata change, so
// the first polls are quick and later ones back off.
func waitAck(ctx context.Context, c *gcp.Clients, t *Target) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.AgentStopTimeout)
	defer cancel()
	pause := 20 * time.Millisecond
	for {
		ack, err := guestAck(ctx, c, t)
		if err != nil && ctx.Err() == nil {
			return "", err
		}
		if strings.HasPrefix(ack, "stopped") {
			return ack, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, time.Second)
	}
}
