package provisioner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/shared/coalesce"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// Provisioner converges sandboxes described by one configuration.
type Provisioner struct {
	cfg        *config.Config
	clients    *gcp.Clients
	sinkFilter func(sb *Sandbox) string

	// mu serialises converges in this process: Monitoring channels and
	// policies have no client-chosen ids, so two concurrent creates would
	// make two of each. Compute inserts are also safe across processes
	// through deterministic request ids.
	mu sync.Mutex

	policy retry.Policy
	// burst coalesces concurrent identical converges (a Provision storm
	// costs two converges, not one per request).
	burst coalesce.Group[converged]
	// registry records each sandbox a converge builds or adopts
	// (SetRegistry); nil records nothing.
	registry Registry
}

// Registry records a sandbox a converge builds or adopts in coopguard's
// trusted sandbox registry: with inst nil before anything is built, then
// with its VM once the converge succeeded.
type Registry func(ctx context.Context, sb *Sandbox, inst *computepb.Instance) error

// SetRegistry makes every converge that changes things record its sandbox
// through r.
func (p *Provisioner) SetRegistry(r Registry) { p.registry = r }

// register records sb with its VM as the converge left it.
func (p *Provisioner) register(ctx context.Context, sb *Sandbox) error {
	var inst *computepb.Instance
	err := retry.Do(ctx, p.policy, func(ctx context.Context) error {
		var err error
		inst, err = p.clients.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: sb.Project, Zone: sb.Zone, Instance: sb.Name})
		return err
	})
	if err != nil {
		return fmt.Errorf("read sandbox %s's VM in %s/%s to record it: %w (a retry of Provision records it)", sb.Name, sb.Project, sb.Zone, err)
	}
	return p.registry(ctx, sb, inst)
}

// converged is one converge's outcome, shared by coalesced callers.
type converged struct {
	rep *Report
	err error
}

// SetRetryPolicy replaces the retry policy of every call (tests shorten it).
func (p *Provisioner) SetRetryPolicy(pol retry.Policy) { p.policy = pol }

// New returns a Provisioner. sinkFilter builds the log sink's filter for a
// sandbox (the detection rules decide what it must catch).
func New(cfg *config.Config, clients *gcp.Clients, sinkFilter func(sb *Sandbox) string) *Provisioner {
	return &Provisioner{cfg: cfg, clients: clients, sinkFilter: sinkFilter, policy: retry.Default}
}

// Options are per-request overrides.
type Options struct {
	// Name overrides the VM name from config.
	Name string
	// Project is the sandbox's project; "" is coopguard's own
	// (cloud.gcp.project). Another project must exist and be readable
	// by coopguard, unless CreateProject.
	Project string
	// CreateProject creates Project under [coopguard.fleet] folder, with
	// its billing account, when it does not exist.
	CreateProject bool
	// DryRun plans and changes nothing (config dry_run forces it on).
	DryRun bool
	// Progress is told about each resource as it finishes.
	Progress Progress
	// Adopt takes the existing VM of that name as it is (adopt.go): it
	// gets what needs no restart, and the report lists the rest.
	Adopt bool
	// Disruptive also makes, on an adopted VM, the changes of the
	// checklist that need a stop (adopt_disruptive.go): no external IP,
	// Shielded VM, the sandbox's own account. The VM is started again
	// only if it was running and is not contained. Its own VPC needs a
	// rebuild: that stays a listed fix. Without it nothing of this is
	// changed; with DryRun the report says what it would change.
	Disruptive bool
}

// Converge builds or repairs the sandbox and reports every resource.
// Concurrent identical requests without a progress callback share one
// converge that started after they arrived.
func (p *Provisioner) Converge(ctx context.Context, o Options) (*Report, error) {
	if o.Progress != nil {
		return p.converge(ctx, o)
	}
	key := o.Project + "\x00" + strconv.FormatBool(o.CreateProject) + "\x00" + o.Name + "\x00" + strconv.FormatBool(o.DryRun) + "\x00" + strconv.FormatBool(o.Adopt) + strconv.FormatBool(o.Disruptive)
	r, err := p.burst.Do(ctx, key, func(ctx context.Context) (converged, error) {
		rep, err := p.converge(ctx, o)
		return converged{rep, err}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.rep, r.err
}

func (p *Provisioner) converge(ctx context.Context, o Options) (*Report, error) {
	sb, err := SandboxIn(p.cfg, o.Project, o.Name, "")
	if err != nil {
		return nil, err
	}
	sb.CreateProject = o.CreateProject
	if p.sinkFilter != nil {
		sb.SinkFilter = p.sinkFilter(sb)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// In a project of its own, nothing (its VM included) can be read
	// before the provisioner's own grant there (fleetgrants.go).
	var grant *Report
	if sb.OwnProject() {
		rep, planned, err := grantPhase(ctx, p.clients, p.policy, sb, o.DryRun || p.cfg.Coopguard.DryRun, o.Progress)
		if err != nil || planned {
			if rep != nil {
				rep.Sandbox, rep.Project = sb.Name, sb.Project
			}
			return rep, err
		}
		grant = rep
	}
	// Whether the VM is adopted is read, never assumed: an explicit adopt,
	// or the label an earlier adopt left.
	ad, inst, err := adoptionOf(ctx, p.clients, p.policy, sb, o.Adopt)
	if err != nil && !errors.Is(err, ErrNothingToAdopt) {
		// Refused before anything is built: a VM coopguard did not
		// provision (or adopt) is left as it is, and so is its project;
		// a VM that could not be read is not guessed at.
		return &Report{Project: sb.Project, Sandbox: sb.Name, DryRun: o.DryRun, Resources: []Result{{
			Kind: "instance", Name: sb.Name, Action: None, Status: StatusFailed, Error: err.Error(),
		}}}, err
	}
	if err != nil {
		return nil, err
	}
	sb.adoption = ad
	var gaps []Gap
	if ad != nil {
		gaps = sb.Gaps(inst)
	}
	dry := o.DryRun || p.cfg.Coopguard.DryRun
	if !dry && p.registry != nil {
		// Recorded before anything is built: the sandbox's account is
		// known to detection before its VM can make a call.
		if err := p.registry(ctx, sb, nil); err != nil {
			return nil, err
		}
	}
	rep, err := RunSandbox(ctx, p.clients, p.policy, sb, dry, o.Progress)
	rep = joinReports(grant, rep)
	if err == nil && !dry && p.registry != nil {
		err = p.register(ctx, sb)
	}
	if rep != nil && dry && o.Disruptive && ad != nil {
		for _, r := range plannedHardening(sb, gaps) {
			rep.Resources = append(rep.Resources, r)
			if o.Progress != nil {
				o.Progress(r)
			}
		}
	}
	if err == nil && !dry && o.Disruptive && ad != nil && anyDisruptive(gaps) {
		// Only once everything around the VM is in place, and only
		// when asked: the fixes that need a stop (adopt_disruptive.go).
		var hardened []Result
		hardened, err = p.harden(ctx, sb, o.Progress)
		rep.Resources = append(rep.Resources, hardened...)
		if now, gerr := p.clients.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: sb.Project, Zone: sb.Zone, Instance: sb.Name}); gerr == nil {
			gaps = sb.Gaps(now)
		}
	}
	if rep != nil {
		rep.Sandbox, rep.Project = sb.Name, sb.Project
		if ad != nil {
			rep.Adopted, rep.Gaps, rep.WatcherInstall = ad.Network, gaps, sb.WatcherInstall()
		}
	}
	return rep, err
}
