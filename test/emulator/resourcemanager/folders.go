package resourcemanager

import (
	"context"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// Folders is the fake Folders service (google.cloud.resourcemanager.v3.Folders):
// GetFolder and the folder's IAM policy, the minimum the fleet needs (a
// parent for new sandbox projects, and the grants deploy makes on it).
// It shares the Server's state: projects name folders as parents.
type Folders struct {
	resourcemanagerpb.UnimplementedFoldersServer
	s *Server
}

// SeedFolder makes folder ("folders/N") exist under parent
// ("organizations/N" or another folder), ACTIVE, with an empty policy.
func (s *Server) SeedFolder(folder, parent, displayName string) *resourcemanagerpb.Folder {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.folders[folder]; ok {
		return proto.Clone(f).(*resourcemanagerpb.Folder)
	}
	now := timestamppb.New(s.now())
	f := &resourcemanagerpb.Folder{Name: folder, Parent: parent, DisplayName: displayName,
		State: resourcemanagerpb.Folder_ACTIVE, CreateTime: now, UpdateTime: now, Etag: s.newEtag()}
	s.folders[folder] = f
	s.folderPolicies[folder] = &iampb.Policy{Version: 1, Etag: []byte(s.newEtag())}
	return proto.Clone(f).(*resourcemanagerpb.Folder)
}

// FolderPolicySnapshot returns a folder's stored IAM policy for the
// emulated IAM (never changed in place; callers must not modify it).
func (s *Server) FolderPolicySnapshot(folder string) (*iampb.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.folderPolicies[folder]
	return p, ok
}

func parseFolder(field, name string) (string, error) {
	n, ok := strings.CutPrefix(name, "folders/")
	if !ok || n == "" || strings.Contains(n, "/") {
		return "", status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %s %q is not of the form folders/*.", field, name)
	}
	return name, nil
}

// GetFolder returns a seeded folder; any other is PERMISSION_DENIED, as
// for projects (the service does not say whether it exists).
func (f *Folders) GetFolder(_ context.Context, req *resourcemanagerpb.GetFolderRequest) (*resourcemanagerpb.Folder, error) {
	name, err := parseFolder("name", req.GetName())
	if err != nil {
		return nil, err
	}
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	got, ok := f.s.folders[name]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (folder %s)", name)
	}
	return proto.Clone(got).(*resourcemanagerpb.Folder), nil
}

// GetIamPolicy returns a folder's policy in the requested version's view.
func (f *Folders) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	name, err := parseFolder("resource", req.GetResource())
	if err != nil {
		return nil, err
	}
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	p, ok := f.s.folderPolicies[name]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (folder %s)", name)
	}
	return iam.PolicyView(p, req.GetOptions().GetRequestedPolicyVersion()), nil
}

// SetIamPolicy replaces a folder's bindings (the default mask), refusing
// a stale etag with ABORTED, as for projects.
func (f *Folders) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	name, err := parseFolder("resource", req.GetResource())
	if err != nil {
		return nil, err
	}
	in := req.GetPolicy()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: policy is required.")
	}
	if m := req.GetUpdateMask(); m != nil && slices.ContainsFunc(m.GetPaths(), func(p string) bool { return p != "bindings" && p != "etag" }) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask %v: the emulated folders change bindings only.", m.GetPaths())
	}
	if err := ValidatePolicy(in); err != nil {
		return nil, err
	}
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	cur, ok := f.s.folderPolicies[name]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (folder %s)", name)
	}
	if err := iam.CheckEtag(in.GetEtag(), cur.GetEtag()); err != nil {
		return nil, err
	}
	if err := iam.CheckWrite(cur, in); err != nil {
		return nil, err
	}
	next := proto.Clone(cur).(*iampb.Policy)
	next.Bindings = cloneBindings(in.GetBindings())
	next.Version = 1
	if iam.HasConditions(next) {
		next.Version = 3
	}
	next.Etag = []byte(f.s.newEtag())
	f.s.folderPolicies[name] = next
	return proto.Clone(next).(*iampb.Policy), nil
}
