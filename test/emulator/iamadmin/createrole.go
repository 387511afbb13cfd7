package iamadmin

import (
	"context"
	"crypto/sha256"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RoleWriter defines a custom role by its full name
// ("projects/<p>/roles/<id>") with exactly permissions.
type RoleWriter func(name string, permissions []string)

// SetRoleWriter makes CreateRole define the roles it creates through w
// (the emulated IAM, which GetRole reads back through SetRoles).
func (s *Server) SetRoleWriter(w RoleWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roleWriter = w
}

// roleIDRE is CreateRoleRequest.role_id's syntax: letters, digits,
// underscores and periods, 3 to 64 of them
// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create).
var roleIDRE = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)

// CreateRole creates a custom role of a project or organisation with the
// permissions of the request's role
// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create).
// A role of that name that exists already is ALREADY_EXISTS. Deleted
// roles are not modelled (none is ever deleted here), so neither is the
// 7-day wait before an id can be used again.
func (s *Server) CreateRole(_ context.Context, req *adminpb.CreateRoleRequest) (*adminpb.Role, error) {
	parent := req.GetParent()
	seg := strings.Split(parent, "/")
	if len(seg) != 2 || (seg[0] != "projects" && seg[0] != "organizations") || seg[1] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid parent %q: use projects/{PROJECT_ID} or organizations/{ORGANIZATION_ID}.", parent)
	}
	if !roleIDRE.MatchString(req.GetRoleId()) {
		return nil, status.Errorf(codes.InvalidArgument, "The role id %q is invalid: use 3 to 64 letters, digits, underscores or periods.", req.GetRoleId())
	}
	if req.GetRole() == nil || len(req.GetRole().GetIncludedPermissions()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "role.included_permissions is required")
	}
	name := parent + "/roles/" + req.GetRoleId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roleWriter == nil {
		return nil, status.Error(codes.Unimplemented, "the emulated IAM has no role store")
	}
	if s.roles != nil {
		if _, ok := s.roles(name); ok {
			return nil, status.Errorf(codes.AlreadyExists, "A role named %s in %s already exists.", req.GetRoleId(), parent)
		}
	}
	perms := append([]string(nil), req.GetRole().GetIncludedPermissions()...)
	s.roleWriter(name, perms)
	stage := req.GetRole().GetStage()
	etag := sha256.Sum256([]byte(strings.Join(perms, ",")))
	return &adminpb.Role{Name: name, Title: req.GetRole().GetTitle(), Description: req.GetRole().GetDescription(),
		IncludedPermissions: perms, Stage: stage, Etag: etag[:8]}, nil
}

// UpdateRole replaces a custom role's title, description, stage and
// permissions, or those update_mask names
// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/patch).
// An unknown role is NOT_FOUND. The emulated IAM keeps permissions only,
// so the answer carries the request's other fields back.
func (s *Server) UpdateRole(_ context.Context, req *adminpb.UpdateRoleRequest) (*adminpb.Role, error) {
	name := req.GetName()
	seg := strings.Split(name, "/")
	if len(seg) != 4 || (seg[0] != "projects" && seg[0] != "organizations") || seg[2] != "roles" || seg[3] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid role name %q: use projects/{PROJECT_ID}/roles/{ROLE} or organizations/{ORGANIZATION_ID}/roles/{ROLE}.", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roleWriter == nil || s.roles == nil {
		return nil, status.Error(codes.Unimplemented, "the emulated IAM has no role store")
	}
	perms, ok := s.roles(name)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "The role named %s was not found.", name)
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 || slices.Contains(paths, "included_permissions") || slices.Contains(paths, "includedPermissions") {
		perms = append([]string(nil), req.GetRole().GetIncludedPermissions()...)
	}
	s.roleWriter(name, perms)
	etag := sha256.Sum256([]byte(strings.Join(perms, ",")))
	return &adminpb.Role{Name: name, Title: req.GetRole().GetTitle(), Description: req.GetRole().GetDescription(),
		IncludedPermissions: perms, Stage: req.GetRole().GetStage(), Etag: etag[:8]}, nil
}
