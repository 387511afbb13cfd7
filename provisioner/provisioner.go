package provisioner

import (
	"context"
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
}

// Converge builds or repairs the sandbox and reports every resource.
// Concurrent identical requests without a progress callback share one
// converge that started after they arrived.
func (p *Provisioner) Converge(ctx context.Context, o Options) (*Report, error) {
	if o.Progress != nil {
		return p.converge(ctx, o)
	}
	key := o.Name + "\x00" + strconv.FormatBool(o.DryRun)
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
	rep, err := Run(ctx, p.clients, p.policy, sb.Resources(), o.DryRun || p.cfg.Coopguard.DryRun, o.Progress)
	if rep != nil {
		rep.Sandbox = sb.Name
	}
	return rep, err
}
