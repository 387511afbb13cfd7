package deploy

import (
	"fmt"
	"maps"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/cloudcoop/coopguard/deploy/roles"
	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// The functions' identities, one per job (config.Jobs): each is a service
// account with its own custom roles (deploy/roles/<role>.yaml, and
// <role>-secrets.yaml bound only on the managed secrets, <role>-keysource
// when a key source is configured, …). A job's role holds exactly what its
// code calls, so the responder cannot start a VM, re-enable a key or
// destroy a version.
const (
	RoleResponder   = config.JobResponder
	RoleRestorer    = config.JobRestorer
	RoleReader      = config.JobReader
	RoleRotator     = config.JobRotator
	RoleProvisioner = config.JobProvisioner
	RoleCosts       = config.JobCosts
	RoleReviewer    = config.JobReviewer
)

// IdentityRole is the role file of job's permissions on a sandbox's own
// service account (disable it and delete its keys, or enable it again),
// bound on that account's IAM policy only: coopguard's jobs cannot
// disable, enable or strip the keys of any other account.
func IdentityRole(job string) string { return job + "-" + string(config.RoleIdentity) }

// SandboxRole is the role file of job's permissions on a sandbox's own
// VM and boot disk (stop, start, tag, label, metadata, snapshot), bound
// under an IAM condition naming the sandboxes' instances and disks
// (config.SandboxCondition): coopguard's jobs cannot change any other VM.
func SandboxRole(job string) string { return job + "-" + string(config.RoleSandbox) }

// SecretsRole is the role file of job's Secret Manager permissions, bound
// under an IAM condition naming the managed secrets and their versions.
func SecretsRole(job string) string { return job + "-" + string(config.RoleSecrets) }

// KeySourceRole is the role file of job's key-source permissions (adding
// versions), bound only when a key source is configured.
func KeySourceRole(job string) string { return job + "-" + string(config.RoleKeySource) }

// Role is a custom role definition file, as `gcloud iam roles create
// --file` reads it (package deploy/roles).
type Role = roles.Role

// ReadRole reads and checks a role definition file.
func ReadRole(file string) (*Role, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return roles.Parse(file, b)
}

// Roots are the packages whose code runs as each role: the deployed binary
// is the functions package and what it imports, and a call counts for the
// role of every root that reaches its package through imports without
// entering another role's root (functions imports provisioner, but only
// Provision runs it). Every job of the functions binary reaches what
// functions imports; claims (JobClaims) narrow that to the jobs that run
// each function. Packages no root reaches are not deployed (the CLI in
// cmd/ runs with the credentials of whoever runs it; test/ and deploy/
// never run deployed), so their calls need no role.
var Roots = map[string][]string{
	RoleProvisioner: {"provisioner"},
	RoleResponder:   {"functions"},
	RoleRestorer:    {"functions"},
	RoleReader:      {"functions"},
	RoleRotator:     {"functions"},
	RoleCosts:       {"functions"},
	RoleReviewer:    {"functions"},
}

// Playbooks are the playbooks each job runs, follow-ups included: the
// responder contains, quarantines and notifies (FinishIncidents carries
// on its follow-ups), the rotator reports posture drift as a notify
// incident, the restorer runs the restore plan of resolve --restore.
var Playbooks = map[string][]func() (playbook.Plan, error){
	RoleResponder: {named(incident.PlaybookContain), named(incident.PlaybookQuarantine), named(incident.PlaybookNotify)},
	RoleRotator:   {named(incident.PlaybookNotify)},
	RoleRestorer:  {func() (playbook.Plan, error) { return playbook.Restore(), nil }},
	// The cost watch contains a key used elsewhere, quarantines past a
	// limit or the budget's cap, notifies past a budget threshold.
	RoleCosts: {named(incident.PlaybookContain), named(incident.PlaybookQuarantine), named(incident.PlaybookNotify)},
}

func named(name string) func() (playbook.Plan, error) {
	return func() (playbook.Plan, error) { return playbook.For(name) }
}

// Claims name the jobs that run code the entry points do not reach within
// their own package: a package directory (every call in it), or a
// package's function, type (all its methods) or method
// ("functions/respond.Responder.Resolve"). A claimed function passes its
// jobs on to what it names in its package (Package.Refs) that is not
// claimed itself: a claim is exact, whoever names the function.
var Claims = map[string][]string{
	"functions/posture":  {RoleReader, RoleRotator, RoleReviewer}, // Posture, RotateKeys' scheduled check, the weekly review
	"functions/rotation": {RoleRotator},
	"functions/revoke":   {RoleResponder, RoleCosts},
	// Every job that reports: the event handlers, Resolve, and
	// RotateKeys reporting posture drift as a notify incident.
	"shared/report": {RoleResponder, RoleRestorer, RoleRotator, RoleCosts, RoleReviewer},
	// The event handlers respond; RotateKeys reports drift through the
	// same path; Resolve undoes; FinishIncidents follows up.
	"functions/respond.Responder.Respond":  {RoleResponder, RoleRotator, RoleCosts},
	"functions/respond.Responder.Resolve":  {RoleRestorer},
	"functions/respond.Responder.FollowUp": {RoleResponder},
	// Rotation's check before adding a version (rotation.Runner's
	// Identity): Status builds a runner too, but only to read.
	"functions.identityCheck": {RoleRotator},
	// The weekly review reads key ages and the VM's NAT routers.
	"functions/rotation.Runner.Inspect": {RoleReviewer},
	"functions/actions.NATRouters":      {RoleReviewer},
}

// JobClaims are Claims with what config.Jobs and Playbooks say: each
// function's entry point (the method "functions.Env.HandleAlert") is
// claimed by its job, each action (its type, "functions/actions.StopVM")
// by the jobs whose playbooks run it.
func JobClaims() (map[string][]string, error) {
	out := map[string][]string{}
	add := func(key, role string) {
		if !slices.Contains(out[key], role) {
			out[key] = append(out[key], role)
		}
	}
	for k, roles := range Claims {
		for _, r := range roles {
			add(k, r)
		}
	}
	for _, j := range config.Jobs {
		for _, f := range j.Functions {
			add("functions.Env."+f.Name, j.Role)
		}
	}
	for role, plans := range Playbooks {
		for _, plan := range plans {
			p, err := plan()
			if err != nil {
				return nil, fmt.Errorf("deploy: the %s's playbook: %w", role, err)
			}
			for _, s := range p.All() {
				a, ok := actions.Lookup(s.Action)
				if !ok {
					return nil, fmt.Errorf("deploy: playbook %s runs action %s, which functions/actions does not define", p.Playbook, s.Action)
				}
				t := reflect.TypeOf(a)
				for t.Kind() == reflect.Pointer {
					t = t.Elem()
				}
				add("functions/actions."+t.Name(), role)
			}
		}
	}
	return out, nil
}

// Ignored are top-level directories the scanner skips: never deployed.
var Ignored = []string{"cmd", "test", "deploy"}

// Attribution is where Attribute puts each call site.
type Attribution struct {
	// ByRole are the calls each role runs.
	ByRole map[string][]CallSite
	// Undeployed are calls in packages no root reaches: they need no role.
	Undeployed []CallSite
	// Unclaimed are calls of the functions binary that no claim reaches:
	// they count for every job that reaches their package, read-only
	// ones too (deploy/jobs_test.go fails on them).
	Unclaimed []CallSite
}

// Attribute assigns every call site to the roles that run it: the jobs
// whose claims reach the function it is in (JobClaims, passed on within
// its package along Package.Refs), else every role whose root reaches its
// package.
func Attribute(pkgs map[string]*Package) (Attribution, error) {
	claims, err := JobClaims()
	if err != nil {
		return Attribution{}, err
	}
	at := Attribution{ByRole: map[string][]CallSite{}}
	reach := reached(pkgs)
	dirs := slices.Sorted(maps.Keys(pkgs))
	for _, dir := range dirs {
		p := pkgs[dir]
		claimed := claimedSymbols(p, claims)
		for _, c := range p.Calls {
			roles := claimed[c.Func]
			if len(roles) == 0 {
				roles = slices.Sorted(maps.Keys(reach[dir]))
				if len(roles) == 0 {
					at.Undeployed = append(at.Undeployed, c)
					continue
				}
				if !slices.Equal(roles, []string{RoleProvisioner}) {
					at.Unclaimed = append(at.Unclaimed, c)
				}
			}
			for _, r := range roles {
				at.ByRole[r] = append(at.ByRole[r], c)
			}
		}
	}
	return at, nil
}

// claimedSymbols maps each function and method of p to the roles that
// claim it or a function of p reaching it, sorted.
func claimedSymbols(p *Package, claims map[string][]string) map[string][]string {
	syms := map[string]bool{}
	for sym, to := range p.Refs {
		syms[sym] = true
		for _, t := range to {
			syms[t] = true
		}
	}
	for _, c := range p.Calls {
		syms[c.Func] = true
	}
	own := map[string][]string{} // the symbols claimed themselves
	for sym := range syms {
		keys := []string{p.Dir, p.Dir + "." + sym}
		if typ, _, ok := strings.Cut(sym, "."); ok {
			keys = append(keys, p.Dir+"."+typ)
		}
		for _, k := range keys {
			for _, r := range claims[k] {
				if !slices.Contains(own[sym], r) {
					own[sym] = append(own[sym], r)
				}
			}
		}
	}
	roles := map[string]map[string]bool{}
	var visit func(sym, role string)
	visit = func(sym, role string) {
		if roles[sym] == nil {
			roles[sym] = map[string]bool{}
		}
		if roles[sym][role] {
			return
		}
		roles[sym][role] = true
		for _, t := range p.Refs[sym] {
			if _, claimed := own[t]; !claimed {
				visit(t, role)
			}
		}
	}
	for sym, rs := range own {
		for _, r := range rs {
			visit(sym, r)
		}
	}
	out := map[string][]string{}
	for sym, rs := range roles {
		out[sym] = slices.Sorted(maps.Keys(rs))
	}
	return out
}

// reached maps each package directory to the roles whose roots reach it
// through imports without entering another role's root.
func reached(pkgs map[string]*Package) map[string]map[string]bool {
	isOtherRoot := func(dir, role string) bool {
		for r, roots := range Roots {
			if r != role && slices.Contains(roots, dir) && !slices.Contains(Roots[role], dir) {
				return true
			}
		}
		return false
	}
	reach := map[string]map[string]bool{}
	var visit func(dir, role string)
	visit = func(dir, role string) {
		if reach[dir] == nil {
			reach[dir] = map[string]bool{}
		}
		if reach[dir][role] {
			return
		}
		reach[dir][role] = true
		p := pkgs[dir]
		if p == nil {
			return
		}
		for _, imp := range p.Imports {
			if !isOtherRoot(imp, role) {
				visit(imp, role)
			}
		}
	}
	for role, roots := range Roots {
		for _, r := range roots {
			if pkgs[r] != nil {
				visit(r, role)
			}
		}
	}
	return reach
}

// Required is what a role's calls need: the permissions per role file (a
// job's own, its -secrets, -keysource and -sandbox files: see target), the
// resource-level grants per job, the call sites behind each permission and
// grant, and the calls of methods missing from Methods.
type Required struct {
	Perms   map[string]map[string][]CallSite // role file → permission → calls
	Grants  map[string]map[string][]CallSite // grant → role → calls
	Unknown []CallSite
}

// Requirements maps attributed calls to permissions.
func Requirements(byRole map[string][]CallSite) Required {
	req := Required{Perms: map[string]map[string][]CallSite{}, Grants: map[string]map[string][]CallSite{}}
	add := func(role, perm string, c CallSite) {
		if req.Perms[role] == nil {
			req.Perms[role] = map[string][]CallSite{}
		}
		req.Perms[role][perm] = append(req.Perms[role][perm], c)
	}
	for role, calls := range byRole {
		for _, c := range calls {
			need, ok := Lookup(c.Method)
			if !ok {
				req.Unknown = append(req.Unknown, c)
				continue
			}
			for _, p := range need.Perms {
				add(target(role, p, need), p, c)
			}
			if need.Grant != "" {
				if req.Grants[need.Grant] == nil {
					req.Grants[need.Grant] = map[string][]CallSite{}
				}
				req.Grants[need.Grant][role] = append(req.Grants[need.Grant][role], c)
			}
		}
	}
	return req
}

// target is the role file a job's permission goes to: a key source's to
// the job's key-source role, Secret Manager's to its managed-secrets role
// (both bound under a condition on the managed secrets), a change to a
// sandbox's VM or disk to its sandbox role (bound under a condition on the
// sandboxes), one to a sandbox's account to its identity role (bound on
// that account), the rest to the job's own. The provisioner's all go to its
// own role: it creates the sandbox.
func target(role, perm string, need Need) string {
	switch {
	case role == RoleProvisioner:
		return role
	case sandboxScoped[perm]:
		return SandboxRole(role)
	case identityScoped[perm]:
		return IdentityRole(role)
	case need.KeySource:
		return KeySourceRole(role)
	case strings.HasPrefix(perm, "secretmanager."):
		return SecretsRole(role)
	}
	return role
}

// RoleFile is the definition file of a role, relative to the repository.
func RoleFile(role string) string { return path.Join("deploy", "roles", role+".yaml") }
