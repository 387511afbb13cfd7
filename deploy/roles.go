package deploy

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The functions' identities. Each custom role in deploy/roles/ is the
// permission set of one of them.
const (
	RoleResponder          = "responder"           // HandleAlert, HandleLogEntry, RotateKeys, Status
	RoleResponderKeySource = "responder-keysource" // the responder, when a key source is configured
	RoleResponderSecrets   = "responder-secrets"   // the responder, on the managed secrets only (IAM condition)
	RoleProvisioner        = "provisioner"         // Provision
)

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
// Provision runs it). Packages no root reaches are not deployed (the CLI in
// cmd/ runs with the credentials of whoever runs it; test/ and deploy/ never
// run deployed), so their calls need no role.
var Roots = map[string][]string{
	RoleProvisioner: {"provisioner"},
	RoleResponder:   {"functions"},
}

// FileRoles overrides the role of single files: the Provision entry point
// lives in package functions but runs as the provisioner.
var FileRoles = map[string]string{
	"functions/provision.go": RoleProvisioner,
}

// Ignored are top-level directories the scanner skips: never deployed.
var Ignored = []string{"cmd", "test", "deploy"}

// Attribute assigns every call site to the roles that run it; calls in
// packages no root reaches are returned as undeployed.
func Attribute(pkgs map[string]*Package) (byRole map[string][]CallSite, undeployed []CallSite) {
	byRole = map[string][]CallSite{}
	rootOf := func(dir string) string {
		for role, roots := range Roots {
			for _, r := range roots {
				if dir == r {
					return role
				}
			}
		}
		return ""
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
			if r := rootOf(imp); r != "" && r != role {
				continue
			}
			visit(imp, role)
		}
	}
	for dir := range pkgs {
		if r := rootOf(dir); r != "" {
			visit(dir, r)
		}
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		for _, c := range pkgs[dir].Calls {
			if r, ok := FileRoles[c.File]; ok {
				byRole[r] = append(byRole[r], c)
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

// Required is what a role's calls need: the permissions per role file (a
// responder's KeySource methods go to RoleResponderKeySource), the
// resource-level grants, the call sites behind each permission and grant,
// and the calls of methods missing from Methods.
type Required struct {
	Perms   map[string]map[string][]CallSite // role file → permission → calls
	Grants  map[string][]CallSite            // grant → calls
	Unknown []CallSite
}

// Requirements maps attributed calls to permissions.
func Requirements(byRole map[string][]CallSite) Required {
	req := Required{Perms: map[string]map[string][]CallSite{}, Grants: map[string][]CallSite{}}
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
				req.Grants[need.Grant] = append(req.Grants[need.Grant], c)
			}
		}
	}
	return req
}

// target is the role file a responder permission goes to: a key source's
// to the key-source role, Secret Manager's to the managed-secrets role
// (both bound under a condition on the managed secrets), the rest to the
// responder's own.
func target(role, perm string, need Need) string {
	switch {
	case role != RoleResponder:
		return role
	case need.KeySource:
		return RoleResponderKeySource
	case strings.HasPrefix(perm, "secretmanager."):
		return RoleResponderSecrets
	}
	return role
}

// RoleFile is the definition file of a role, relative to the repository.
func RoleFile(role string) string { return path.Join("deploy", "roles", role+".yaml") }
