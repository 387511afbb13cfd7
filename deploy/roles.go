package deploy

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The functions' identities, one per job: each is a service account with
// its own custom roles (deploy/roles/<role>.yaml, and <role>-secrets.yaml
// bound only on the managed secrets, <role>-keysource when a key source is
// configured). A job's role holds exactly what its code calls, so the
// responder cannot start a VM, re-enable a key or destroy a version.
const (
	RoleResponder   = "responder"   // HandleAlert, HandleLogEntry: contain, quarantine, notify; FinishIncidents: their follow-up
	RoleRestorer    = "restorer"    // Resolve: undo a containment
	RoleReader      = "reader"      // Status, Posture: read only
	RoleRotator     = "rotator"     // RotateKeys: rotation and the scheduled posture check
	RoleProvisioner = "provisioner" // Provision

	// The responder's Secret Manager role on the managed secrets.
	RoleResponderSecrets = RoleResponder + secretsSuffix
	// The rotator's role for adding versions, when a key source is set.
	RoleRotatorKeySource = RoleRotator + keySourceSuffix
)

const (
	secretsSuffix   = "-secrets"
	keySourceSuffix = "-keysource"
	sandboxSuffix   = "-sandbox"
	identitySuffix  = "-identity"
)

// IdentityRole is the role file of job's permissions on a sandbox's own
// service account (disable it and delete its keys, or enable it again),
// bound on that account's IAM policy only: coopguard's jobs cannot
// disable, enable or strip the keys of any other account.
func IdentityRole(job string) string { return job + identitySuffix }

// SandboxRole is the role file of job's permissions on a sandbox's own
// VM and boot disk (stop, start, tag, label, metadata, snapshot), bound
// under an IAM condition naming the sandboxes' instances and disks
// (config.SandboxCondition): coopguard's jobs cannot change any other VM.
func SandboxRole(job string) string { return job + sandboxSuffix }

// SecretsRole is the role file of job's Secret Manager permissions, bound
// under an IAM condition naming the managed secrets and their versions.
func SecretsRole(job string) string { return job + secretsSuffix }

// KeySourceRole is the role file of job's key-source permissions (adding
// versions), bound only when a key source is configured.
func KeySourceRole(job string) string { return job + keySourceSuffix }

// Role is a custom role definition file, as `gcloud iam roles create
// --file` reads it.
type Role struct {
	Title               string   `yaml:"title"`
	Description         string   `yaml:"description"`
	Stage               string   `yaml:"stage"`
	IncludedPermissions []string `yaml:"includedPermissions"`
}

// ReadRole reads and checks a role definition file.
func ReadRole(file string) (*Role, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r Role
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	switch {
	case r.Title == "" || len(r.Title) > 100:
		return nil, fmt.Errorf("%s: title must be 1-100 characters", file)
	case len(r.Description) > 300:
		return nil, fmt.Errorf("%s: description is over 300 characters", file)
	case r.Stage != "GA" && r.Stage != "BETA" && r.Stage != "ALPHA":
		return nil, fmt.Errorf("%s: stage must be GA, BETA or ALPHA", file)
	case len(r.IncludedPermissions) == 0:
		return nil, fmt.Errorf("%s: includedPermissions is empty", file)
	}
	return &r, nil
}

// Roots are the packages whose code runs as each role: the deployed binary
// is the functions package and what it imports, and a call counts for the
// role of every root that reaches its package through imports without
// entering another role's root (functions imports provisioner, but only
// Provision runs it). Every job of the functions binary reaches what
// functions imports; Claims narrow that to the jobs that run each file.
// Packages no root reaches are not deployed (the CLI in cmd/ runs with the
// credentials of whoever runs it; test/ and deploy/ never run deployed), so
// their calls need no role.
var Roots = map[string][]string{
	RoleProvisioner: {"provisioner"},
	RoleResponder:   {"functions"},
	RoleRestorer:    {"functions"},
	RoleReader:      {"functions"},
	RoleRotator:     {"functions"},
}

// Claims name the jobs that run a file (or every file of a package
// directory): its calls count for those jobs only. Every file of the
// functions binary that calls GCP is claimed (deploy/iam_test.go): an
// unclaimed call would count for every job, and a read-only job would hold
// a mutation. Entry points are claimed by their function's job, actions by
// the playbooks that run them (contain/quarantine/notify: responder; the
// undo actions of resolve --restore: restorer), shared helpers by every
// job that uses them.
var Claims = map[string][]string{
	"functions/provision.go":       {RoleProvisioner},
	"functions/status.go":          {RoleReader},
	"functions/sandboxes.go":       {RoleResponder}, // HandleLogEntry and HandleAlert find the sandbox an event concerns
	"functions/alerting.go":        {RoleResponder}, // HandleLogEntry tells coopguard's alerting from the project's
	"functions/vmstate.go":         {RoleResponder}, // HandleLogEntry reads the VM's status for key reads
	"functions/rotatekeys.go":      {RoleRotator},
	"functions/posture":            {RoleReader, RoleRotator}, // Posture, and RotateKeys' scheduled check
	"functions/rotation":           {RoleRotator},
	"functions/revoke":             {RoleResponder},
	"functions/respond/resolve.go": {RoleRestorer},
	// FinishIncidents carries on the responder's containments.
	"functions/finishincidents.go":  {RoleResponder},
	"functions/respond/followup.go": {RoleResponder},
	// Every job that responds: the event handlers, Resolve, and
	// RotateKeys reporting posture drift as a notify incident.
	"functions/respond/respond.go": {RoleResponder, RoleRestorer, RoleRotator},
	"functions/respond/execute.go": {RoleResponder, RoleRestorer, RoleRotator},
	"shared/report":                {RoleResponder, RoleRestorer, RoleRotator},
	// Helpers of the containment and the undo actions.
	"functions/actions/instance.go":   {RoleResponder, RoleRestorer},
	"functions/actions/operation.go":  {RoleResponder, RoleRestorer},
	"functions/actions/agentsflag.go": {RoleResponder, RoleRestorer},
	// collect-logs is in the notify playbook too.
	"functions/actions/collectlogs.go":    {RoleResponder, RoleRotator},
	"functions/actions/disablesecrets.go": {RoleResponder},
	"functions/actions/snapshotdisk.go":   {RoleResponder},
	"functions/actions/stopagents.go":     {RoleResponder},
	"functions/actions/stopvm.go":         {RoleResponder},
	// The follow-up's looks (FinishIncidents, as the responder).
	"functions/actions/vmterminated.go":    {RoleResponder},
	"functions/actions/agentsack.go":       {RoleResponder},
	"functions/actions/enablesecrets.go":   {RoleRestorer},
	"functions/actions/startvm.go":         {RoleRestorer},
	"functions/actions/disableidentity.go": {RoleResponder},
	"functions/actions/enableidentity.go":  {RoleRestorer},
	// Rotation reads the sandbox's account before adding a version while
	// an incident is open.
	"functions/rotationidentity.go": {RoleRotator},
}

// Ignored are top-level directories the scanner skips: never deployed.
var Ignored = []string{"cmd", "test", "deploy"}

// Attribute assigns every call site to the roles that run it; calls in
// packages no root reaches are returned as undeployed.
func Attribute(pkgs map[string]*Package) (byRole map[string][]CallSite, undeployed []CallSite) {
	byRole = map[string][]CallSite{}
	isRootOf := func(dir, role string) bool { return slices.Contains(Roots[role], dir) }
	isOtherRoot := func(dir, role string) bool {
		for r, roots := range Roots {
			if r != role && slices.Contains(roots, dir) && !isRootOf(dir, role) {
				return true
			}
		}
		return false
	}
	// reach[dir] = roles whose roots reach dir without entering another
	// role's root.
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
			if isOtherRoot(imp, role) {
				continue
			}
			visit(imp, role)
		}
	}
	for role, roots := range Roots {
		for _, r := range roots {
			if pkgs[r] != nil {
				visit(r, role)
			}
		}
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		for _, c := range pkgs[dir].Calls {
			if roles, ok := Claimed(c); ok {
				for _, r := range roles {
					byRole[r] = append(byRole[r], c)
				}
				continue
			}
			roles := make([]string, 0, len(reach[dir]))
			for r := range reach[dir] {
				roles = append(roles, r)
			}
			if len(roles) == 0 {
				undeployed = append(undeployed, c)
				continue
			}
			sort.Strings(roles)
			for _, r := range roles {
				byRole[r] = append(byRole[r], c)
			}
		}
	}
	return byRole, undeployed
}

// Claimed returns the jobs that claim c's file or package, if any.
func Claimed(c CallSite) ([]string, bool) {
	if roles, ok := Claims[c.File]; ok {
		return roles, true
	}
	roles, ok := Claims[c.Dir]
	return roles, ok
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
