package functions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/store"
)

// FleetRefresh bounds how stale the sandbox index of a process may be
// about sandboxes another process recorded: the registry's generation is
// read again (one keyed read) once this much time has passed on the Env's
// clock, and a principal found to be no sandbox's account is looked up
// again after it. A converge in the same process refreshes it at once.
const FleetRefresh = 10 * time.Second

// fleetSandbox is a recorded sandbox as the detection rules see it.
type fleetSandbox struct {
	// key is its address (store.Registered.Key); id its VM's numeric id,
	// "" until the converge that builds it has finished.
	key, id string
	// project is its project, as the registry records it.
	project string
	rules   detect.Sandbox
}

// fleetIndex is the per-process cache of the sandbox registry that
// HandleLogEntry decides by: the sandbox of an account, the sandboxes of
// a project. It never lists the fleet: a miss is one indexed read. Its
// entries hold until the registry's generation moves (checked every
// FleetRefresh) or this process records a sandbox (invalidate); a
// principal that is no sandbox's account is remembered for FleetRefresh
// at most.
type fleetIndex struct {
	mu        sync.Mutex
	gen       int64
	checked   time.Time
	byAccount map[string]accountEntry
	byProject map[string][]fleetSandbox
}

// accountEntry is a cached account lookup: its sandbox, or nil for a
// principal that is none (as of at).
type accountEntry struct {
	sb *fleetSandbox
	at time.Time
}

// invalidate forgets everything: the next lookup reads the registry.
func (x *fleetIndex) invalidate() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byAccount, x.byProject, x.checked = nil, nil, time.Time{}
}

// refresh drops the cache when the registry's generation moved since it
// was last checked, at most once every FleetRefresh.
func (x *fleetIndex) refresh(ctx context.Context, e *Env) error {
	now := e.Now()
	x.mu.Lock()
	due := x.checked.IsZero() || now.Sub(x.checked) >= FleetRefresh || now.Before(x.checked)
	x.mu.Unlock()
	if !due {
		return nil
	}
	gen, err := e.Store.FleetGeneration(ctx)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if gen != x.gen || x.byAccount == nil {
		x.gen, x.byAccount, x.byProject = gen, map[string]accountEntry{}, map[string][]fleetSandbox{}
	}
	x.checked = now
	return nil
}

// ofAccount returns the recorded sandbox whose own account is account, or
// nil: from the cache, else one indexed read of the registry.
func (x *fleetIndex) ofAccount(ctx context.Context, e *Env, account string) (*fleetSandbox, error) {
	if e.Store == nil || account == "" {
		return nil, nil
	}
	if err := x.refresh(ctx, e); err != nil {
		return nil, err
	}
	now := e.Now()
	x.mu.Lock()
	c, ok := x.byAccount[account]
	x.mu.Unlock()
	if ok && (c.sb != nil || now.Sub(c.at) < FleetRefresh) {
		return c.sb, nil
	}
	r, found, err := e.Store.SandboxOfAccount(ctx, account)
	if err != nil {
		return nil, err
	}
	c = accountEntry{at: now}
	if found {
		sb, err := registeredForRules(e.Config, r)
		if err != nil {
			return nil, err
		}
		c.sb = &sb
	}
	x.mu.Lock()
	if x.byAccount != nil {
		x.byAccount[account] = c
	}
	x.mu.Unlock()
	return c.sb, nil
}

// inProject returns the recorded sandboxes of project: from the cache,
// else one indexed query of the registry.
func (x *fleetIndex) inProject(ctx context.Context, e *Env, project string) ([]fleetSandbox, error) {
	if e.Store == nil || project == "" {
		return nil, nil
	}
	if err := x.refresh(ctx, e); err != nil {
		return nil, err
	}
	x.mu.Lock()
	c, ok := x.byProject[project]
	x.mu.Unlock()
	if ok {
		return c, nil
	}
	rs, err := e.Store.SandboxesIn(ctx, project)
	if err != nil {
		return nil, err
	}
	out := make([]fleetSandbox, 0, len(rs))
	for _, r := range rs {
		sb, err := registeredForRules(e.Config, r)
		if err != nil {
			return nil, err
		}
		out = append(out, sb)
	}
	x.mu.Lock()
	if x.byProject != nil {
		x.byProject[project] = out
	}
	x.mu.Unlock()
	return out, nil
}

// registeredForRules is what the rules know of a recorded sandbox: the
// names Provision derives from its (project, name), with its account,
// secrets and canary as the provisioner recorded them.
func registeredForRules(cfg *config.Config, r store.Registered) (fleetSandbox, error) {
	sb, err := provisioner.SandboxIn(cfg, r.Project, r.Name, "")
	if err != nil {
		return fleetSandbox{}, fmt.Errorf("sandbox %s in the registry: %w", r.Key(), err)
	}
	rules := sandboxForRules(cfg, sb)
	rules.ServiceAccount, rules.Secrets, rules.Canaries, rules.Zone = r.ServiceAccount, r.Secrets, nonEmpty(r.Canary), r.Zone
	return fleetSandbox{key: r.Key(), id: r.InstanceID, project: r.Project, rules: rules}, nil
}

// recordSandbox is the provisioner's Registry: it records sb (with its VM
// once built) in the registry and refreshes this process's index. Without
// a store nothing is recorded.
func (e *Env) recordSandbox(ctx context.Context, sb *provisioner.Sandbox, inst *computepb.Instance) error {
	if e.Store == nil {
		return nil
	}
	r := store.Registered{Project: sb.Project, Zone: sb.Zone, Name: sb.Name, ServiceAccount: sb.ServiceAccount,
		Network: sb.Network(), Secrets: sb.Secrets, Canary: sb.Canary}
	if ad := sb.Adopted(); ad != nil {
		r.Network, r.Adopted = ad.Network, true
	}
	if inst != nil {
		r.InstanceID = strconv.FormatUint(inst.GetId(), 10)
	}
	err := e.Store.RegisterSandbox(ctx, r)
	e.fleet.invalidate()
	return err
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

// recordedVM is the sandbox the registry holds in project with VM id id.
func recordedVM(ctx context.Context, e *Env, project, id string) (store.Registered, bool, error) {
	if e.Store == nil {
		return store.Registered{}, false, nil
	}
	in, err := e.Store.SandboxesIn(ctx, project)
	if err != nil {
		return store.Registered{}, false, err
	}
	for _, r := range in {
		if r.InstanceID == id {
			return r, true, nil
		}
	}
	return store.Registered{}, false, nil
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
// found by its numeric id among the guarded zone's instances, or, in
// another project, among those of the zone where the sandbox registry
// records a sandbox of that id in that project; its
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
	project, zone, recorded := e.Config.Cloud.GCP.Project, e.Config.Cloud.GCP.Zone, ""
	if p := m.Resource.ProjectID(); p != "" && p != project {
		// A sandbox in a project of its own: the trusted registry says
		// whether coopguard guards a VM of that id there, and where.
		r, ok, err := recordedVM(ctx, e, p, id)
		if err != nil {
			return "", "", err
		}
		if !ok {
			return reason("the incident is about project %q, where coopguard guards no sandbox with instance id %s", p, id)
		}
		project, zone, recorded = p, r.Zone, r.Name
	}
	it := e.Clients.Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: project, Zone: zone, Filter: ptr("id = " + id),
	})
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return reason("no instance with id %s in %s/%s", id, project, zone)
		}
		if err != nil {
			return "", "", fmt.Errorf("list instances in %s/%s: %w", project, zone, err)
		}
		if strconv.FormatUint(inst.GetId(), 10) != id {
			continue // the filter is the server's; check the id ourselves too
		}
		name := inst.GetLabels()[config.SandboxLabel]
		if name == "" || name != inst.GetName() {
			return reason("instance %s is not a sandbox Provision built (label %s=%q)", inst.GetName(), config.SandboxLabel, name)
		}
		if recorded != "" && recorded != name {
			return reason("instance %s in %s is recorded as sandbox %s", name, project, recorded)
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
