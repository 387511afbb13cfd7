// Package posture checks a live cloudcoop sandbox project against the
// security checklist (cloudcoop's security guide, enforced at build time by
// Provision) and reports, per item, pass or fail with the evidence read
// from GCP and the fix. `coopguard posture`, the Posture HTTP function and
// the scheduled run use it; drift found by the scheduled run becomes a
// notify incident (DriftIncident).
//
// Each check is one file behind the Check interface and one line in the
// checks list (registry.go). Checks only read: they never change the
// project, and they never read a secret's payload, so no evidence can
// carry a key.
package posture

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// Status is a check's verdict.
type Status string

// Verdicts. Error means the check could not read what it needs, so the
// item is neither confirmed nor refuted.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Error Status = "error"
)

// Result is one checklist item's line in the report.
type Result struct {
	// Check is the check's name, e.g. no-external-ip.
	Check string `json:"check"`
	// Status is pass, fail or error.
	Status Status `json:"status"`
	// Evidence is what was read that decides the verdict (names, roles,
	// ranges, times; never a secret value).
	Evidence string `json:"evidence"`
	// Fix says what to do when the check does not pass.
	Fix string `json:"fix,omitempty"`
}

// Check is one item of the checklist.
type Check interface {
	// Name is the check's stable, kebab-case name; incidents and the CLI
	// table use it.
	Name() string
	// Run reads what it needs through c and returns the verdict. It must
	// not change anything in the project.
	Run(ctx context.Context, c *gcp.Clients, in *Input) Result
}

// Input is what every check knows about the sandbox. Build it with
// NewInput; it memoises the reads several checks share (the VM, the project
// IAM policy), so one posture run reads each once.
type Input struct {
	Config *config.Config
	// Sandbox names every resource Provision builds.
	Sandbox *provisioner.Sandbox
	// Now is the time the rotation checks judge ages against.
	Now time.Time
	// Region is where coopguard's functions run as Cloud Run services;
	// NewInput sets the sandbox's region.
	Region string
	// Services are the Cloud Run service names of coopguard's functions;
	// NewInput sets Services.
	Services []string
	// Timeout bounds each check; NewInput sets DefaultTimeout.
	Timeout time.Duration
	// KeyIDs reads the provider key ids rotation recorded (the incident
	// store); nil when there is none.
	KeyIDs revoke.KeyIDs

	vm     memo[*computepb.Instance]
	policy memo[*iampb.Policy]
}

// DefaultTimeout bounds each check, so one hung API cannot hold the report.
const DefaultTimeout = 30 * time.Second

// NewInput derives the checks' input from cfg, judging ages at now.
func NewInput(cfg *config.Config, now time.Time) (*Input, error) {
	if cfg == nil {
		return nil, errors.New("posture.NewInput: missing config")
	}
	sb, err := provisioner.NewSandbox(cfg, "", "")
	if err != nil {
		return nil, fmt.Errorf("posture.NewInput: %w", err)
	}
	return &Input{
		Config:   cfg,
		Sandbox:  sb,
		Now:      now,
		Region:   cfg.Region(),
		Services: slices.Clone(Services),
		Timeout:  DefaultTimeout,
	}, nil
}

// Project is the sandbox's project id.
func (in *Input) Project() string { return in.Sandbox.Project }

// instance returns the sandbox VM, or nil when it does not exist.
func (in *Input) instance(ctx context.Context, c *gcp.Clients) (*computepb.Instance, error) {
	return in.vm.get(func() (*computepb.Instance, error) {
		inst, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: in.Project(), Zone: in.Sandbox.Zone, Instance: in.Sandbox.Name})
		if retry.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read instance %s in %s: %w", in.Sandbox.Name, in.Sandbox.Zone, err)
		}
		return inst, nil
	})
}

// projectPolicy returns the project's IAM policy (bindings and audit
// configs), asking for version 3 so conditional bindings are shown.
func (in *Input) projectPolicy(ctx context.Context, c *gcp.Clients) (*iampb.Policy, error) {
	return in.policy.get(func() (*iampb.Policy, error) {
		p, err := c.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{
			Resource: "projects/" + in.Project(),
			Options:  &iampb.GetPolicyOptions{RequestedPolicyVersion: 3},
		})
		if err != nil {
			return nil, fmt.Errorf("read IAM policy of project %s: %w", in.Project(), err)
		}
		return p, nil
	})
}

// memo runs a read once and hands every caller its result; concurrent
// callers wait for the first.
type memo[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (m *memo[T]) get(read func() (T, error)) (T, error) {
	m.once.Do(func() { m.v, m.err = read() })
	return m.v, m.err
}

// Report is the outcome of one posture run.
type Report struct {
	Project string `json:"project"`
	Zone    string `json:"zone"`
	// Sandbox is the VM's name.
	Sandbox   string    `json:"sandbox"`
	CheckedAt time.Time `json:"checkedAt"`
	Seconds   float64   `json:"seconds"`
	// Results are in the checks list's order.
	Results []Result `json:"results"`
}

// Failing returns the names of the checks that failed (not those that
// could not run).
func (r Report) Failing() []string { return r.with(Fail) }

// Errored returns the names of the checks that could not run.
func (r Report) Errored() []string { return r.with(Error) }

// OK reports whether every check passed.
func (r Report) OK() bool { return len(r.Failing()) == 0 && len(r.Errored()) == 0 }

func (r Report) with(s Status) []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == s {
			out = append(out, res.Check)
		}
	}
	return out
}

// Run runs every registered check in parallel and reports them in the
// checks list's order. A check that panics or overruns in.Timeout is
// reported as an error; the others are unaffected.
func Run(ctx context.Context, c *gcp.Clients, in *Input) Report {
	return runChecks(ctx, c, in, Checks())
}

func runChecks(ctx context.Context, c *gcp.Clients, in *Input, checks []Check) Report {
	start := time.Now()
	rep := Report{Project: in.Project(), Zone: in.Sandbox.Zone, Sandbox: in.Sandbox.Name, CheckedAt: in.Now, Results: make([]Result, len(checks))}
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() { rep.Results[i] = runOne(ctx, c, in, ch) })
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	return rep
}

// runOne runs one check under its timeout, turning a panic into an error
// result so that one broken check cannot take the report down.
func runOne(ctx context.Context, c *gcp.Clients, in *Input, ch Check) (res Result) {
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			logger.FromContext(ctx).Error("posture check panicked", "check", ch.Name(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = Result{Check: ch.Name(), Status: Error,
				Evidence: fmt.Sprintf("check panicked: %v", p),
				Fix:      "a bug in coopguard: report it with the stack from the log"}
		}
	}()
	res = ch.Run(ctx, c, in)
	res.Check = ch.Name()
	return res
}
