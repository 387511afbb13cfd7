package provisioner

import (
	"context"
	"errors"
	"strconv"
	"sync"

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
	// DryRun plans and changes nothing (config dry_run forces it on).
	DryRun bool
	// Progress is told about each resource as it finishes.
	Progress Progress
	// Adopt takes the existing VM of that name as it is (adopt.go): it
	// gets what needs no restart, and the report lists the rest.
	Adopt bool
	// Disruptive asks for the changes that need a stop or a rebuild too;
	// coopguard refuses it for now with the fixes (ErrDisruptive).
	Disruptive bool
}

// Converge builds or repairs the sandbox and reports every resource.
// Concurrent identical requests without a progress callback share one
// converge that started after they arrived.
func (p *Provisioner) Converge(ctx context.Context, o Options) (*Report, error) {
	if o.Progress != nil {
		return p.converge(ctx, o)
	}
	key := o.Name + "\x00" + strconv.FormatBool(o.DryRun) + "\x00" + strconv.FormatBool(o.Adopt) + strconv.FormatBool(o.Disruptive)
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
	sb, err := NewSandbox(p.cfg, o.Name, "")
	if err != nil {
		return nil, err
	}
	if p.sinkFilter != nil {
		sb.SinkFilter = p.sinkFilter(sb)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Whether the VM is adopted is read, never assumed: an explicit adopt,
	// or the label an earlier adopt left.
	ad, inst, err := adoptionOf(ctx, p.clients, p.policy, sb, o.Adopt)
	if err != nil && !errors.Is(err, ErrNothingToAdopt) {
		// Refused before anything is built: a VM coopguard did not
		// provision (or adopt) is left as it is, and so is its project;
		// a VM that could not be read is not guessed at.
		return &Report{Project: p.clients.Project, Sandbox: sb.Name, DryRun: o.DryRun, Resources: []Result{{
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
	if o.Disruptive {
		return nil, disruptiveRefusal(sb, gaps)
	}
	rep, err := Run(ctx, p.clients, p.policy, sb.Resources(), o.DryRun || p.cfg.Coopguard.DryRun, o.Progress)
	if rep != nil {
		rep.Sandbox = sb.Name
		if ad != nil {
			rep.Adopted, rep.Gaps, rep.WatcherInstall = ad.Network, gaps, sb.WatcherInstall()
		}
	}
	return rep, err
}
