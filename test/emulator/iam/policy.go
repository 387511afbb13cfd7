package iam

import (
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/google/cel-go/cel"
	"google.golang.org/protobuf/proto"
)

// PolicySource returns the allow policy a fake holds for resource (a full
// resource name without the service prefix, e.g. "projects/p" or
// "projects/p/secrets/s"), or false when it holds none.
type PolicySource func(resource string) (*iampb.Policy, bool)

// Evaluator decides whether a member holds a permission on a resource.
// Create it with New; it is safe for concurrent use.
type Evaluator struct {
	now func() time.Time

	mu sync.RWMutex
	// custom roles by full name, "projects/<id>/roles/<roleId>".
	custom map[string]Role
	// inherited are the bindings of the organisation above every project.
	inherited []*iampb.Binding
	// policies are the resource-level policies the emulator itself holds
	// (service accounts, topics).
	policies map[string]*iampb.Policy
	sources  []PolicySource
	// projectID maps a project number to its id (GCP accepts both).
	projectID func(string) string
	// parentOf names the parent of a project or folder ("folders/N",
	// "organizations/N"; "" at the top), so that a binding on a folder
	// holds on the projects under it.
	parentOf func(string) string

	celEnv *cel.Env
	// progs caches compiled conditions: expression → *compiled.
	progs sync.Map
	// timeless caches the result of a condition that does not read
	// request.time, by expression and resource: it can only change with
	// either. (A long condition, such as the one naming every sandbox, is
	// otherwise evaluated again on every call the gate checks.)
	timeless sync.Map
}

// New returns an Evaluator with GCP's predefined roles and no policies.
// now is the clock IAM conditions see as request.time.
func New(now func() time.Time) *Evaluator {
	env, err := cel.NewEnv(
		cel.Variable("resource", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		panic("iam: CEL environment: " + err.Error())
	}
	return &Evaluator{now: now, custom: map[string]Role{}, policies: map[string]*iampb.Policy{}, celEnv: env, projectID: func(s string) string { return s }}
}

// DefineRole defines (or redefines) a custom role, e.g.
// "projects/p/roles/coopguardResponder", with exactly permissions.
func (e *Evaluator) DefineRole(name string, permissions []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.custom[name] = Role{Patterns: append([]string(nil), permissions...)}
}

// CustomRole returns the permissions of a custom role by full name
// ("projects/<id or number>/roles/<roleId>"), or false when no such role
// is defined.
func (e *Evaluator) CustomRole(name string) ([]string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, ok := e.custom[e.canonical(name)]
	if !ok {
		return nil, false
	}
	return append([]string(nil), r.Patterns...), true
}

// GrantInherited binds role to member at the organisation, above every
// project: the project's own policy does not show it, as in GCP.
func (e *Evaluator) GrantInherited(member, role string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inherited = append(e.inherited, &iampb.Binding{Role: role, Members: []string{member}})
}

// SetPolicy replaces the allow policy the emulator holds on resource.
func (e *Evaluator) SetPolicy(resource string, p *iampb.Policy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.policies[resource] = proto.Clone(p).(*iampb.Policy)
}

// Policy returns a copy of the allow policy the emulator holds on resource.
func (e *Evaluator) Policy(resource string) (*iampb.Policy, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, ok := e.policies[resource]
	if !ok {
		return nil, false
	}
	return proto.Clone(p).(*iampb.Policy), true
}

// UpdatePolicy changes the policy the emulator holds on resource (an empty
// one when none) under its lock; change's error leaves it as it was.
func (e *Evaluator) UpdatePolicy(resource string, change func(*iampb.Policy) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := &iampb.Policy{Version: 1}
	if cur, ok := e.policies[resource]; ok {
		p = proto.Clone(cur).(*iampb.Policy)
	}
	if err := change(p); err != nil {
		return err
	}
	e.policies[resource] = p
	return nil
}

// Grant adds member to role's binding in the policy the emulator holds on
// resource (the effect of `gcloud … add-iam-policy-binding`).
func (e *Evaluator) Grant(resource, member, role string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.policies[resource]
	if !ok {
		p = &iampb.Policy{Version: 1}
		e.policies[resource] = p
	}
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			for _, m := range b.Members {
				if m == member {
					return
				}
			}
			b.Members = append(b.Members, member)
			return
		}
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
}

// AddSource makes the policies another fake holds count.
func (e *Evaluator) AddSource(src PolicySource) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sources = append(e.sources, src)
}

// SetProjectIDs sets how a project number maps to its id.
func (e *Evaluator) SetProjectIDs(f func(string) string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.projectID = f
}

// SetParents sets how the hierarchy above a project is walked: parentOf
// returns the parent of "projects/ID" or "folders/N", "" at the top
// (https://cloud.google.com/iam/docs/resource-hierarchy-access-control:
// a policy on a folder is inherited by the projects under it).
func (e *Evaluator) SetParents(parentOf func(string) string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.parentOf = parentOf
}

// Allowed reports whether member holds permission on resource, through a
// binding on the resource or any ancestor (organisation, project, parent
// resources) whose role grants it and whose condition, if any, is true.
// resource is a relative name such as "projects/p/secrets/s/versions/1";
// a project number in it counts as the project.
func (e *Evaluator) Allowed(member, permission, resource string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	// Conditions see the name as the service writes it; policies are
	// looked up by project id.
	asWritten := resource
	for _, b := range e.inherited {
		if e.bindingGrants(b, member, permission, asWritten) {
			return true
		}
	}
	for _, anc := range e.hierarchy(e.canonical(resource)) {
		for _, p := range e.policiesOf(anc) {
			for _, b := range p.GetBindings() {
				if e.bindingGrants(b, member, permission, asWritten) {
					return true
				}
			}
		}
	}
	return false
}

// canonical names the project by id. Callers hold e.mu.
func (e *Evaluator) canonical(resource string) string {
	rest, ok := strings.CutPrefix(resource, "projects/")
	if !ok {
		return resource
	}
	proj, tail, _ := strings.Cut(rest, "/")
	out := "projects/" + e.projectID(proj)
	if tail != "" {
		out += "/" + tail
	}
	return out
}

// policiesOf returns every policy held on resource. Callers hold e.mu.
func (e *Evaluator) policiesOf(resource string) []*iampb.Policy {
	var out []*iampb.Policy
	if p, ok := e.policies[resource]; ok {
		out = append(out, p)
	}
	for _, src := range e.sources {
		if p, ok := src(resource); ok {
			out = append(out, p)
		}
	}
	return out
}

// hierarchy is resource's ancestors with the folders above its project
// (or above itself, for a folder), outermost first. Callers hold e.mu.
func (e *Evaluator) hierarchy(resource string) []string {
	anc := ancestors(resource)
	if e.parentOf == nil || len(anc) == 0 {
		return anc
	}
	var above []string
	for p, n := e.parentOf(anc[0]), 0; p != "" && n < 10; p, n = e.parentOf(p), n+1 {
		above = append([]string{p}, above...)
	}
	return append(above, anc...)
}

// ancestors returns resource and each parent in the collection/id path,
// outermost first: projects/p, projects/p/secrets/s, …/versions/1.
func ancestors(resource string) []string {
	seg := strings.Split(resource, "/")
	var out []string
	for i := 2; i <= len(seg); i += 2 {
		out = append(out, strings.Join(seg[:i], "/"))
	}
	if len(seg)%2 == 1 {
		out = append(out, resource)
	}
	return out
}

// bindingGrants reports whether one binding gives member permission on
// resource. Callers hold e.mu (read).
func (e *Evaluator) bindingGrants(b *iampb.Binding, member, permission, resource string) bool {
	if !hasMember(b.GetMembers(), member) || !e.roleGrants(b.GetRole(), permission) {
		return false
	}
	if c := b.GetCondition(); c != nil && c.GetExpression() != "" {
		return e.conditionHolds(c.GetExpression(), resource)
	}
	return true
}

func hasMember(members []string, member string) bool {
	for _, m := range members {
		if m == member || m == "allUsers" || (m == "allAuthenticatedUsers" && member != "") {
			return true
		}
	}
	return false
}

// roleGrants looks a role up among the predefined and custom roles; an
// unknown role grants nothing.
func (e *Evaluator) roleGrants(role, permission string) bool {
	if r, ok := Predefined[role]; ok {
		return r.Grants(permission)
	}
	if r, ok := e.custom[e.canonical(role)]; ok {
		return r.Grants(permission)
	}
	return false
}

// conditionHolds evaluates an IAM condition with the attributes IAM
// offers (https://cloud.google.com/iam/docs/conditions-attribute-reference):
// resource.name, resource.type, resource.service and request.time. An
// expression that does not compile or fails to evaluate is false, as GCP
// treats an evaluation error.
func (e *Evaluator) conditionHolds(expr, resource string) bool {
	if strings.Contains(expr, "request.") {
		return e.evalCondition(expr, resource)
	}
	key := expr + "\x00" + resource
	if v, ok := e.timeless.Load(key); ok {
		return v.(bool)
	}
	held := e.evalCondition(expr, resource)
	e.timeless.Store(key, held)
	return held
}

// compiled is one condition's program, compiled once however many calls
// need it at the same moment (a long condition takes a while under -race).
type compiled struct {
	once sync.Once
	prg  cel.Program // nil when the expression does not compile
}

// Precompile compiles a condition now, so that the first call it decides
// does not wait for the compilation: deploy-time seeding calls it for the
// conditions it binds.
func (e *Evaluator) Precompile(expr string) { e.program(expr) }

// program returns expr compiled (once); nil when it does not compile.
func (e *Evaluator) program(expr string) *compiled {
	entry, _ := e.progs.LoadOrStore(expr, &compiled{})
	c := entry.(*compiled)
	c.once.Do(func() {
		ast, iss := e.celEnv.Compile(expr)
		if iss.Err() != nil {
			return
		}
		if p, err := e.celEnv.Program(ast); err == nil {
			c.prg = p
		}
	})
	return c
}

// evalCondition evaluates a condition.
func (e *Evaluator) evalCondition(expr, resource string) bool {
	c := e.program(expr)
	if c.prg == nil {
		return false
	}
	prg := c.prg
	out, _, err := prg.Eval(map[string]any{
		"resource": map[string]any{"name": resource, "type": ResourceType(resource), "service": ResourceService(resource)},
		"request":  map[string]any{"time": e.now()},
	})
	if err != nil {
		return false
	}
	v, ok := out.Value().(bool)
	return ok && v
}

// resourceTypes are the IAM resource types of the collections conditions
// may name (https://cloud.google.com/iam/docs/conditions-resource-attributes).
var resourceTypes = map[string]string{
	"secrets":         "secretmanager.googleapis.com/Secret",
	"versions":        "secretmanager.googleapis.com/SecretVersion",
	"instances":       "compute.googleapis.com/Instance",
	"disks":           "compute.googleapis.com/Disk",
	"snapshots":       "compute.googleapis.com/Snapshot",
	"firewalls":       "compute.googleapis.com/Firewall",
	"topics":          "pubsub.googleapis.com/Topic",
	"serviceAccounts": "iam.googleapis.com/ServiceAccount",
	"projects":        "cloudresourcemanager.googleapis.com/Project",
}

// ResourceType is the IAM resource type of a relative resource name.
func ResourceType(resource string) string {
	seg := strings.Split(resource, "/")
	coll := seg[0]
	if len(seg) >= 2 {
		coll = seg[len(seg)-2]
		if len(seg)%2 == 1 {
			coll = seg[len(seg)-1]
		}
	}
	return resourceTypes[coll]
}

// ResourceService is the service of a relative resource name.
func ResourceService(resource string) string {
	t, _, _ := strings.Cut(ResourceType(resource), "/")
	return t
}
