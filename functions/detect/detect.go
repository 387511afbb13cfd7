// Package detect runs coopguard's detection rules over Cloud Logging entries.
//
// Rules are data: each is a CEL expression (github.com/google/cel-go) over two
// variables, entry (the log entry as a map) and sandbox (what the guarded
// sandbox is made of), that names a playbook and a severity when it matches.
// Rules are compiled once, refused at compile time when they are not boolean
// or could be too expensive, and bounded at run time by a cost limit and a
// deadline, so a rule from config can never stall the responder.
package detect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"

	"github.com/cloudcoop/coopguard/shared/events"
)

// Rule is one detection rule, typically loaded from config.
type Rule struct {
	// Name identifies the rule in matches, reports and errors; unique.
	Name string
	// Expression is a boolean CEL expression over entry and sandbox.
	Expression string
	// Playbook is the playbook to run on a match (contain, quarantine, notify).
	Playbook string
	// Severity is a Cloud Logging severity name (WARNING, ERROR, CRITICAL, …).
	Severity string
}

// Sandbox is what the rules know about the guarded sandbox.
type Sandbox struct {
	// Project is the sandbox's GCP project id.
	Project string
	// ServiceAccount is the email of the VM's dedicated service account.
	ServiceAccount string
	// Network is the name of the sandbox's VPC network.
	Network string
	// InstanceName is the VM's name.
	InstanceName string
	// Zone is the VM's zone as the sandbox registry records it; "" is
	// the configured zone (cloud.gcp.zone).
	Zone string
	// Secrets are the short names of the managed secrets (e.g. "anthropic-api-key").
	Secrets []string
	// Canaries are the short names of the sandbox's canary secrets, which
	// nothing legitimate reads.
	Canaries []string
	// Resources are the names (last path segment) of the resources
	// coopguard made for the sandbox: network, subnet, firewalls, router,
	// log sink, egress route.
	Resources []string
	// SubnetCIDR is the primary range of the sandbox's subnet: its VM,
	// which has no external address, calls Google APIs from an address
	// in it (Private Google Access).
	SubnetCIDR string
	// VMStatus is the sandbox VM's status as the Compute API reports it
	// when the entry is judged ("" when not looked up); VMStoppedAt and
	// VMStartedAt are its lastStopTimestamp and lastStartTimestamp (zero
	// when it has none). Never anything the VM wrote.
	VMStatus                 string
	VMStoppedAt, VMStartedAt time.Time
	// Coopguard are the emails of coopguard's own service accounts: their
	// calls never trigger a rule.
	Coopguard []string
	// Pipeline are the names (last path segment) of coopguard's own
	// pipeline resources beyond those deploy names coopguard*: its
	// topics.
	Pipeline []string
	// CopyOf is the disk the snapshot or image a sharing entry
	// (snapshots.setIamPolicy, images.setIamPolicy) concerns was made
	// from, as Compute reports its sourceDisk when HandleLogEntry reads it
	// for those entries only ("" otherwise, or when it could not be read):
	// a copy of the sandbox's disk shared under any name is the sandbox's.
	CopyOf string
	// Alerting are the full resource names of coopguard's alert policies
	// and notification channels that an entry concerns (HandleLogEntry
	// reads them for alerting changes only): defence-changed notifies
	// for those, not for the project's other alerting.
	Alerting []string
}

// Match is a rule that matched an entry.
type Match struct {
	// Rule is the matching rule's name.
	Rule string
	// Playbook and Severity are copied from the rule.
	Playbook string
	Severity string
}

// RuleError is a compile or evaluation problem of one rule.
type RuleError struct {
	// Rule is the rule's name.
	Rule string
	// Err is the problem.
	Err error
}

func (e *RuleError) Error() string { return fmt.Sprintf("rule %q: %v", e.Rule, e.Err) }

// Unwrap returns the underlying problem.
func (e *RuleError) Unwrap() error { return e.Err }

// Limits on rule cost. Costs are CEL's abstract units (roughly one per
// operation, plus string and list sizes); real entries cost a few hundred.
const (
	// MaxEstimatedCost rejects, at compile time, a rule whose worst case over
	// an entry of events.MaxPayloadSize exceeds it — a single pass over the
	// entry is fine, a nested comprehension over it is not.
	MaxEstimatedCost = 100_000_000
	// MaxRuntimeCost aborts one rule's evaluation once it has spent this
	// much: ample for string and regex work over a large entry, reached
	// within a fraction of a second by runaway loops.
	MaxRuntimeCost = 200_000
	// EvalTimeout bounds the wall time of evaluating the rules for one
	// entry, for loops whose cost units are slow. A rule that uses it up
	// fails and the next rule gets a fresh budget, so a runaway rule cannot
	// starve the rules after it.
	EvalTimeout = time.Second
	// interruptEvery is how many comprehension iterations run between checks
	// of the deadline.
	interruptEvery = 100
	// maxSecrets is the size bound the estimator assumes for sandbox.secrets.
	maxSecrets = 64
	// maxSandboxString bounds the sandbox's names and email for the
	// estimator (GCP names are at most 63 characters, emails about 100).
	maxSandboxString = 256
)

// Engine holds compiled rules; it is safe for concurrent use.
type Engine struct {
	rules []compiledRule
}

type compiledRule struct {
	Rule
	prg cel.Program
}

// newEnv declares the variables rules see and the extensions they may use:
// string helpers (lowerAscii, split…), cel.bind, optional field access
// (entry.?protoPayload.?methodName.orValue("")) and secretName.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(append(catalogueFunctions(),
		cel.Variable("entry", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("sandbox", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		ext.Bindings(),
		ext.Network(), // ip(), cidr(): where a call came from
		cel.OptionalTypes(),
		cel.ParserExpressionSizeLimit(16<<10),
		// "projects/p/secrets/k/versions/3".secretName() == "k"; "" for any
		// other resource name. Rules compare it with sandbox.secrets.
		cel.Function("secretName",
			cel.MemberOverload("string_secretName", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(v)
					}
					return types.String(secretName(string(s)))
				}))),
	)...)
}

// secretName returns <id> of "projects/<p>/secrets/<id>" or
// "projects/<p>/secrets/<id>/versions/<v>", else "".
func secretName(resource string) string {
	rest, ok := strings.CutPrefix(resource, "projects/")
	if !ok {
		return ""
	}
	project, rest, ok := strings.Cut(rest, "/secrets/")
	if !ok || project == "" || strings.Contains(project, "/") {
		return ""
	}
	id, version, hasVersion := strings.Cut(rest, "/versions/")
	if id == "" || strings.Contains(id, "/") || (hasVersion && (version == "" || strings.Contains(version, "/"))) {
		return ""
	}
	return id
}

var severities = map[string]bool{
	"DEFAULT": true, "DEBUG": true, "INFO": true, "NOTICE": true, "WARNING": true,
	"ERROR": true, "CRITICAL": true, "ALERT": true, "EMERGENCY": true,
}

// Compile checks and compiles rules once. Every bad rule is reported (errors
// joined, each a *RuleError naming the rule): empty or duplicate name, no
// playbook, unknown severity, CEL syntax or type errors, a non-boolean
// result, or an estimated cost above MaxEstimatedCost. A list of rules is
// compiled once per process: every Env of the same rules shares the
// Engine (immutable, safe for concurrent use), and its errors.
func Compile(rules []Rule) (*Engine, error) {
	return cachedCompile(rules, compile)
}

// compile is Compile without the cache.
func compile(rules []Rule) (*Engine, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("detect.Compile: cel.NewEnv: %w", err)
	}
	eng := &Engine{}
	var errs []error
	seen := map[string]bool{}
	for i, r := range rules {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		cr, err := compileRule(env, r, seen)
		if err != nil {
			errs = append(errs, &RuleError{Rule: name, Err: err})
			continue
		}
		eng.rules = append(eng.rules, cr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return eng, nil
}

func compileRule(env *cel.Env, r Rule, seen map[string]bool) (compiledRule, error) {
	switch {
	case r.Name == "":
		return compiledRule{}, errors.New("name is empty")
	case seen[r.Name]:
		return compiledRule{}, errors.New("duplicate name")
	case r.Playbook == "":
		return compiledRule{}, errors.New("playbook is empty")
	case !severities[strings.ToUpper(r.Severity)]:
		return compiledRule{}, fmt.Errorf("severity %q is not a Cloud Logging severity", r.Severity)
	}
	seen[r.Name] = true
	r.Severity = strings.ToUpper(r.Severity)
	ast, iss := env.Compile(r.Expression)
	if iss.Err() != nil {
		return compiledRule{}, fmt.Errorf("CEL: %w", iss.Err())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return compiledRule{}, fmt.Errorf("expression must be boolean, is %s", ast.OutputType())
	}
	est, err := env.EstimateCost(ast, sizeBounds{})
	if err != nil {
		return compiledRule{}, fmt.Errorf("estimating cost: %w", err)
	}
	if est.Max > MaxEstimatedCost {
		return compiledRule{}, fmt.Errorf("estimated worst-case cost %d exceeds %d: avoid nested loops over entry data", est.Max, MaxEstimatedCost)
	}
	prg, err := env.Program(ast,
		cel.EvalOptions(cel.OptOptimize), // precompiles constant regexes
		cel.CostLimit(MaxRuntimeCost),
		cel.InterruptCheckFrequency(interruptEvery),
	)
	if err != nil {
		return compiledRule{}, fmt.Errorf("CEL program: %w", err)
	}
	return compiledRule{Rule: r, prg: prg}, nil
}

// sizeBounds gives the cost estimator an upper size for data it cannot see:
// everything in entry comes from a payload of at most events.MaxPayloadSize
// bytes, and a sandbox has few secrets.
type sizeBounds struct{}

// EstimateSize implements checker.CostEstimator.
func (sizeBounds) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if p := n.Path(); len(p) == 2 && p[0] == "sandbox" {
		if p[1] == "secrets" {
			return &checker.SizeEstimate{Min: 0, Max: maxSecrets}
		}
		return &checker.SizeEstimate{Min: 0, Max: maxSandboxString}
	}
	return &checker.SizeEstimate{Min: 0, Max: events.MaxPayloadSize}
}

// EstimateCallCost implements checker.CostEstimator; CEL's defaults apply.
func (sizeBounds) EstimateCallCost(_, overloadID string, _ *checker.AstNode, _ []checker.AstNode) *checker.CallEstimate {
	return catalogueCallCost(overloadID)
}

// Rules returns the compiled rules, in order.
func (e *Engine) Rules() []Rule {
	out := make([]Rule, len(e.rules))
	for i, r := range e.rules {
		out[i] = r.Rule
	}
	return out
}

// Match returns the rules that match entry, in rule order. A rule that fails
// to evaluate counts as no match; use Evaluate to get those diagnostics.
func (e *Engine) Match(entry events.LogEntry, sb Sandbox) []Match {
	m, _ := e.Evaluate(context.Background(), entry, sb)
	return m
}

// Evaluate returns the rules that match entry, in rule order, and the
// evaluation errors of the rules that failed (errors joined, each a
// *RuleError). Only genuine audit entries of the sandbox's project are
// evaluated (see Genuine), and never those of calls coopguard's own
// accounts made. A failed rule is no match: one broken rule must not keep the
// others from containing an incident. Each rule is bounded by ctx,
// EvalTimeout and MaxRuntimeCost.
func (e *Engine) Evaluate(ctx context.Context, entry events.LogEntry, sb Sandbox) ([]Match, error) {
	if Genuine(entry, sb.Project) != nil || isCoopguard(entry, sb) {
		return nil, nil
	}
	act, err := cel.NewActivation(map[string]any{
		"entry":   entryValue(entry),
		"sandbox": withOrigin(sandboxValue(sb), sb),
	})
	if err != nil {
		return nil, fmt.Errorf("detect: activation: %w", err)
	}
	var matches []Match
	var errs []error
	// One timer for all rules in the common case; renewed only after a rule
	// has exhausted it (timers are a good part of the cost of a fast match).
	rctx, cancel := withBudget(ctx)
	defer func() { cancel() }()
	for _, r := range e.rules {
		if rctx.Err() != nil && ctx.Err() == nil {
			cancel()
			rctx, cancel = withBudget(ctx)
		}
		out, _, err := r.prg.ContextEval(rctx, act)
		if err != nil {
			errs = append(errs, &RuleError{Rule: r.Name, Err: err})
			continue
		}
		if b, ok := out.Value().(bool); ok && b {
			matches = append(matches, Match{Rule: r.Name, Playbook: r.Playbook, Severity: r.Severity})
		}
	}
	return matches, errors.Join(errs...)
}

// withBudget gives rule evaluation its EvalTimeout budget under ctx.
func withBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, EvalTimeout)
}
