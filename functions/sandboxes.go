package functions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// otherSandbox is a sandbox Provision built under a name other than the
// configured one, as the detection rules see it.
type otherSandbox struct {
	// id is its instance's numeric id.
	id    string
	rules detect.Sandbox
}

// otherSandboxes lists the sandboxes Provision built in the configured
// zone besides the configured one: the instances labelled
// coopguard-sandbox=<their own name>. The label is trusted: it is set by
// Provision, and no sandbox account holds a Compute role (posture fails
// one). What the rules know of each (its account, network, canary) is
// derived from its name, as Provision derived it, never read from the VM.
func otherSandboxes(ctx context.Context, e *Env) ([]otherSandbox, error) {
	var out []otherSandbox
	err := eachOtherSandbox(ctx, e, e.Clients, func(inst *computepb.Instance, sb *provisioner.Sandbox) {
		out = append(out, otherSandbox{id: strconv.FormatUint(inst.GetId(), 10), rules: sandboxForRules(e.Config, sb)})
	})
	return out, err
}

// eachOtherSandbox calls f for each sandbox Provision built in the
// configured zone besides the configured one, listing the instances with
// clients (see otherSandboxes for what is trusted).
func eachOtherSandbox(ctx context.Context, e *Env, clients *gcp.Clients, f func(*computepb.Instance, *provisioner.Sandbox)) error {
	g := e.Config.Cloud.GCP
	it := clients.Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: g.Project, Zone: g.Zone, Filter: ptr("labels." + config.SandboxLabel + ":*"),
	})
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list the sandboxes in %s/%s: %w", g.Project, g.Zone, err)
		}
		if sb, ok := builtSandbox(e.Config, inst); ok {
			f(inst, sb)
		}
	}
}

// builtSandbox returns the sandbox Provision built as inst under a name
// other than the configured one (labelled coopguard-sandbox=<its name>),
// and false for any other instance.
func builtSandbox(cfg *config.Config, inst *computepb.Instance) (*provisioner.Sandbox, bool) {
	name := inst.GetName()
	if name == cfg.VM.Name || inst.GetLabels()[config.SandboxLabel] != name {
		return nil, false
	}
	sb, err := provisioner.NewSandbox(cfg, name, "")
	if err != nil {
		return nil, false // not a name Provision accepts: not one it built
	}
	return sb, true
}

// managedSecrets lists every sandbox's own managed secrets
// (config.SandboxSecrets): the configured sandbox's, then those of each
// other sandbox Provision built, listed as account. Rotation and status
// cover them all; each incident touches only its own sandbox's.
func managedSecrets(ctx context.Context, e *Env, account string) ([]string, error) {
	out := e.Config.SandboxSecrets(e.Config.VM.Name)
	err := eachOtherSandbox(ctx, e, e.ClientsOf(account), func(_ *computepb.Instance, sb *provisioner.Sandbox) {
		out = append(out, sb.Secrets...)
	})
	return out, err
}

// reason is foreignAlert's answer for an alert that is not the sandbox's.
func reason(format string, args ...any) (string, string, error) {
	return fmt.Sprintf(format, args...), "", nil
}

// foreignAlert says why m is not an incident of the CPU policy Provision
// made for the VM it names, or "" when it is. Anyone who may edit alert
// policies can point one at coopguard's channel, with any playbook label
// and any resource; only the policy coopguard made for a sandbox, about
// that sandbox's own VM, decides that the VM is contained. The VM is
// found by its numeric id among the guarded zone's instances; its
// coopguard-sandbox label, set by Provision, names the sandbox. account
// is the service account the VM runs as (as Respond marks its incident
// with it) when the alert is the sandbox's.
func foreignAlert(ctx context.Context, e *Env, m events.MonitoringIncident) (why, account string, err error) {
	id := m.Resource.InstanceID()
	if m.Resource.Type != "gce_instance" || id == "" {
		return reason("the incident is about a %q resource, not a sandbox VM", m.Resource.Type)
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return reason("instance id %q is not numeric", id)
	}
	g := e.Config.Cloud.GCP
	if p := m.Resource.ProjectID(); p != "" && p != g.Project {
		return reason("the incident is about project %q; coopguard guards %q", p, g.Project)
	}
	it := e.Clients.Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: g.Project, Zone: g.Zone, Filter: ptr("id = " + id),
	})
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return reason("no instance with id %s in %s/%s", id, g.Project, g.Zone)
		}
		if err != nil {
			return "", "", fmt.Errorf("list instances in %s/%s: %w", g.Project, g.Zone, err)
		}
		if strconv.FormatUint(inst.GetId(), 10) != id {
			continue // the filter is the server's; check the id ourselves too
		}
		name := inst.GetLabels()[config.SandboxLabel]
		if name == "" || name != inst.GetName() {
			return reason("instance %s is not a sandbox Provision built (label %s=%q)", inst.GetName(), config.SandboxLabel, name)
		}
		if want := provisioner.AlertPolicyName(name); m.PolicyName != want {
			return reason("policy %q is not the policy coopguard made for sandbox %s (%q)", m.PolicyName, name, want)
		}
		if l, ok := m.PolicyUserLabels[config.SandboxLabel]; ok && l != name {
			return reason("the policy is labelled %s=%q, not %q", config.SandboxLabel, l, name)
		}
		for _, sa := range inst.GetServiceAccounts() {
			account = cmp.Or(account, sa.GetEmail())
		}
		return "", account, nil
	}
}
