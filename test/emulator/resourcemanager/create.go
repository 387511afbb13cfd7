package resourcemanager

import (
	"context"
	"regexp"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// projectIDRule is the Project.project_id rule of the v3 reference: 6 to
// 30 lowercase ASCII letters, digits or hyphens, starting with a letter,
// no trailing hyphen
// (https://cloud.google.com/resource-manager/reference/rest/v3/projects#Project).
var projectIDRule = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

// ValidProjectID reports whether id is a project id projects.create
// accepts.
func ValidProjectID(id string) bool { return projectIDRule.MatchString(id) }

// CreateProject creates a project under a folder or an organization, as
// projects.create does
// (https://cloud.google.com/resource-manager/reference/rest/v3/projects/create):
// the id must follow the id rule and be unused by any project (ALREADY_EXISTS
// otherwise, whoever owns it); the gate has checked
// resourcemanager.projects.create on the parent. The creator is the new
// project's owner (roles/owner on its policy): "Initially, the project
// resource is owned by its creator exclusively"
// (https://cloud.google.com/resource-manager/reference/rest/v1/projects/create).
// The operation is answered done, with the project as its response.
//
// Stricter than GCP: a parent is required (GCP may default it to the
// caller's organization), and a folder must have been seeded.
func (s *Server) CreateProject(ctx context.Context, req *resourcemanagerpb.CreateProjectRequest) (*longrunningpb.Operation, error) {
	in := req.GetProject()
	id := in.GetProjectId()
	if !ValidProjectID(id) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid project_id %q: it must be 6 to 30 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen.", id)
	}
	parent := in.GetParent()
	kind, num, _ := strings.Cut(parent, "/")
	if (kind != "folders" && kind != "organizations") || num == "" || strings.Contains(num, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid parent %q: use folders/{folder_id} or organizations/{organization_id}.", parent)
	}
	email, _ := iam.PrincipalFrom(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == "folders" {
		if _, ok := s.folders[parent]; !ok {
			return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (parent %s)", parent)
		}
	}
	if _, taken := s.projects[id]; taken {
		return nil, status.Errorf(codes.AlreadyExists, "Requested entity already exists: project id %s is taken.", id)
	}
	p := s.seed(id)
	p.Parent = parent
	if in.GetDisplayName() != "" {
		p.DisplayName = in.GetDisplayName()
	}
	p.Labels = in.GetLabels()
	if email != "" {
		s.policies[id] = &iampb.Policy{Version: 1, Etag: []byte(s.newEtag()),
			Bindings: []*iampb.Binding{{Role: "roles/owner", Members: []string{iam.Member(email)}}}}
	}
	resp, err := anypb.New(proto.Clone(p))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode the new project: %v", err)
	}
	meta, err := anypb.New(&resourcemanagerpb.CreateProjectMetadata{CreateTime: timestamppb.New(s.now())})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode the operation's metadata: %v", err)
	}
	return &longrunningpb.Operation{Name: "operations/cp." + id, Done: true, Metadata: meta,
		Result: &longrunningpb.Operation_Response{Response: resp}}, nil
}

// ParentOf returns the parent of a project ("projects/ID") or a folder
// ("folders/N") as the emulated IAM walks the hierarchy: "" above a
// project seeded without a parent, or a folder's top.
func (s *Server) ParentOf(resource string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := strings.CutPrefix(resource, "projects/"); ok {
		if p, ok := s.projects[id]; ok {
			return p.GetParent()
		}
		return ""
	}
	if f, ok := s.folders[resource]; ok {
		return f.GetParent()
	}
	return ""
}

// Exists reports whether a project (by id or number) exists.
func (s *Server) Exists(project string) bool {
	id := s.IDOf(project)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.projects[id]
	return ok
}
