// Package provisioner turns a sandbox's desired state into what exists in
// the project: it observes every resource (reads only), plans a change per
// resource, and applies the changes in dependency order, running every
// resource as soon as the resources it depends on are done. A converge of
// a sandbox that already matches makes no mutating call.
package provisioner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// Action is what a converge does to one resource.
type Action string

// The actions of a plan.
const (
	Create Action = "create"
	Update Action = "update"
	None   Action = "none"
)

// Change is the planned change of one resource. Apply is nil for None.
type Change struct {
	Action Action
	// Detail says what will be (or was) done, or what differs.
	Detail string
	// Apply makes the change; it may rely on its dependencies being done.
	Apply func(ctx context.Context) error
}

// Resource is one piece of the sandbox. Observe only reads.
type Resource interface {
	// Kind is the resource type as the report shows it, e.g. "firewall".
	Kind() string
	// Name is the resource's name in its API.
	Name() string
	// Deps are the IDs (Kind/Name) of resources that must exist first.
	Deps() []string
	// Observe reads the current state and returns the change that makes it
	// match the desired state.
	Observe(ctx context.Context, c *gcp.Clients) (Change, error)
}

// ID is a resource's key in the dependency graph.
func ID(r Resource) string { return r.Kind() + "/" + r.Name() }

// Status of one resource in a report.
const (
	StatusPlanned = "planned" // dry-run: nothing was changed
	StatusDone    = "done"
	StatusFailed  = "failed"
	StatusSkipped = "skipped" // a dependency failed
)

// Result is one resource's line in a report.
type Result struct {
	Kind     string  `json:"kind"`
	Name     string  `json:"name"`
	Action   Action  `json:"action"`
	Status   string  `json:"status"`
	Detail   string  `json:"detail,omitempty"`
	Error    string  `json:"error,omitempty"`
	Seconds  float64 `json:"seconds"`
	Wave     int     `json:"wave"`
	observed time.Duration
	applied  time.Duration
}

// Report is the outcome of a plan or converge.
type Report struct {
	Project   string   `json:"project"`
	Sandbox   string   `json:"sandbox"`
	DryRun    bool     `json:"dryRun"`
	Resources []Result `json:"resources"`
	Seconds   float64  `json:"seconds"`
	// CriticalPathSeconds is the longest chain of dependent resources,
	// each weighted by its own measured time: the least wall time any
	// schedule could achieve.
	CriticalPathSeconds float64 `json:"criticalPathSeconds"`
	// Adopted is the network of a VM coopguard adopted ("" when it built
	// it); Gaps what the adopted VM lacks that needs a stop or a rebuild,
	// each with its fix; WatcherInstall the line that installs the agent
	// watcher now (else it arrives at the next boot).
	Adopted        string `json:"adopted,omitempty"`
	Gaps           []Gap  `json:"gaps,omitempty"`
	WatcherInstall string `json:"watcherInstall,omitempty"`
}

// Failed returns the results that failed or were skipped.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Resources {
		if res.Status == StatusFailed || res.Status == StatusSkipped {
			out = append(out, res)
		}
	}
	return out
}

// Progress is told about each resource as it finishes.
type Progress func(Result)

// Run observes every resource in parallel, then (unless dryRun) applies
// the changes in dependency order. Every resource is reported; one failure
// skips only the resources that depend on it. The returned error joins the
// failures.
func Run(ctx context.Context, c *gcp.Clients, policy retry.Policy, resources []Resource, dryRun bool, progress Progress) (*Report, error) {
	start := time.Now()
	g, err := newGraph(resources)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(resources))
	changes := make([]Change, len(resources))
	var wg sync.WaitGroup
	for i, r := range resources {
		results[i] = Result{Kind: r.Kind(), Name: r.Name(), Wave: g.wave[i]}
		wg.Go(func() {
			t := time.Now()
			var ch Change
			err := retry.Do(ctx, policy, func(ctx context.Context) error {
				var err error
				ch, err = r.Observe(ctx, c)
				return err
			})
			results[i].observed = time.Since(t)
			if err != nil {
				results[i].Status, results[i].Error = StatusFailed, fmt.Sprintf("read %s %s: %v", r.Kind(), r.Name(), err)
				return
			}
			changes[i] = ch
			results[i].Action, results[i].Detail = ch.Action, ch.Detail
		})
	}
	wg.Wait()

	if dryRun {
		for i := range results {
			if results[i].Status == "" {
				results[i].Status = StatusPlanned
			}
			results[i].Seconds = results[i].observed.Seconds()
			if progress != nil {
				progress(results[i])
			}
		}
	} else {
		g.apply(ctx, policy, changes, results, progress)
	}

	rep := &Report{Project: c.Project, DryRun: dryRun, Resources: results, Seconds: time.Since(start).Seconds()}
	rep.CriticalPathSeconds = g.criticalPath(results).Seconds()
	var errs []error
	for _, res := range results {
		if res.Status == StatusFailed {
			errs = append(errs, errors.New(res.Error))
		}
	}
	return rep, errors.Join(errs...)
}

// graph is the dependency DAG of a resource list.
type graph struct {
	deps [][]int // deps[i]: indexes resource i waits for
	wave []int   // wave[i]: 0 for roots, 1 + max wave of deps otherwise
}

func newGraph(resources []Resource) (*graph, error) {
	index := map[string]int{}
	for i, r := range resources {
		if _, dup := index[ID(r)]; dup {
			return nil, fmt.Errorf("provisioner: resource %s listed twice", ID(r))
		}
		index[ID(r)] = i
	}
	g := &graph{deps: make([][]int, len(resources)), wave: make([]int, len(resources))}
	for i, r := range resources {
		for _, d := range r.Deps() {
			j, ok := index[d]
			if !ok {
				return nil, fmt.Errorf("provisioner: %s depends on unknown %s", ID(r), d)
			}
			g.deps[i] = append(g.deps[i], j)
		}
	}
	// Waves by repeated relaxation; a cycle shows as a wave past the count.
	for range resources {
		changed := false
		for i := range resources {
			for _, j := range g.deps[i] {
				if g.wave[j]+1 > g.wave[i] {
					g.wave[i], changed = g.wave[j]+1, true
				}
			}
		}
		if !changed {
			return g, nil
		}
	}
	return nil, errors.New("provisioner: dependency cycle among resources")
}

// apply runs each change once all of its dependencies are done; resources
// whose dependencies failed are skipped.
func (g *graph) apply(ctx context.Context, policy retry.Policy, changes []Change, results []Result, progress Progress) {
	done := make([]chan struct{}, len(changes))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var mu sync.Mutex // serialises progress callbacks
	var wg sync.WaitGroup
	for i := range changes {
		wg.Go(func() {
			defer close(done[i])
			for _, j := range g.deps[i] {
				<-done[j]
			}
			res := &results[i]
			defer func() {
				res.Seconds = (res.observed + res.applied).Seconds()
				if progress != nil {
					mu.Lock()
					progress(*res)
					mu.Unlock()
				}
			}()
			if res.Status == StatusFailed {
				return
			}
			for _, j := range g.deps[i] {
				if s := results[j].Status; s == StatusFailed || s == StatusSkipped {
					res.Status = StatusSkipped
					res.Error = fmt.Sprintf("not applied: %s/%s failed first", results[j].Kind, results[j].Name)
					return
				}
			}
			ch := changes[i]
			if ch.Apply == nil {
				res.Status = StatusDone
				return
			}
			t := time.Now()
			// Every Apply is idempotent (request ids, AlreadyExists handled),
			// so a transient failure is retried in place.
			err := retry.Do(ctx, policy, ch.Apply)
			res.applied = time.Since(t)
			if err != nil {
				res.Status, res.Error = StatusFailed, fmt.Sprintf("%s %s %s: %v", ch.Action, res.Kind, res.Name, err)
				return
			}
			res.Status = StatusDone
		})
	}
	wg.Wait()
}

// criticalPath is the observe phase (its slowest read) plus the longest
// chain of applies.
func (g *graph) criticalPath(results []Result) time.Duration {
	var observe time.Duration
	finish := make([]time.Duration, len(results))
	order := make([]int, len(results))
	for i := range order {
		order[i] = i
		observe = max(observe, results[i].observed)
	}
	sort.Slice(order, func(a, b int) bool { return g.wave[order[a]] < g.wave[order[b]] })
	var longest time.Duration
	for _, i := range order {
		var start time.Duration
		for _, j := range g.deps[i] {
			start = max(start, finish[j])
		}
		finish[i] = start + results[i].applied
		longest = max(longest, finish[i])
	}
	return observe + longest
}

// created treats 409 ALREADY_EXISTS from an insert as success: a retried
// or concurrent converge made the resource first, and the next converge
// checks its spec like any other.
func created(err error) error {
	if retry.IsAlreadyExists(err) {
		return nil
	}
	return err
}
