package resourcemanager

import (
	"context"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/audit/detail"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// GetProject returns a seeded project.
func (s *Server) GetProject(_ context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	id, err := parseProject("name", req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[id]
	if !ok {
		return nil, errDenied(id)
	}
	return proto.Clone(p).(*resourcemanagerpb.Project), nil
}

// GetIamPolicy returns a project's IAM policy: bindings, audit configs and
// the etag a later SetIamPolicy must carry, in the view of the requested
// policy version (iam.PolicyView).
func (s *Server) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	id, err := parseProject("resource", req.GetResource())
	if err != nil {
		return nil, err
	}
	if v := req.GetOptions().GetRequestedPolicyVersion(); v != 0 && v != 1 && v != 3 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid requested_policy_version %d: must be 0, 1 or 3.", v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[id]
	if !ok {
		return nil, errDenied(id)
	}
	return iam.PolicyView(p, req.GetOptions().GetRequestedPolicyVersion()), nil
}

// SetIamPolicy replaces the fields of a project's policy named by the
// update mask (default "bindings,etag", as in the reference: audit configs
// change only with "auditConfigs" in the mask). A policy carrying an etag
// that is no longer current is refused with ABORTED.
func (s *Server) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	id, err := parseProject("resource", req.GetResource())
	if err != nil {
		return nil, err
	}
	in := req.GetPolicy()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: policy is required.")
	}
	paths := []string{"bindings", "etag"}
	if m := req.GetUpdateMask(); m != nil && len(m.GetPaths()) > 0 {
		paths = m.GetPaths()
	}
	for _, p := range paths {
		if p != "bindings" && p != "etag" && p != "audit_configs" && p != "auditConfigs" && p != "version" {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q: use bindings, etag, auditConfigs.", p)
		}
	}
	if err := ValidatePolicy(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.policies[id]
	if !ok {
		return nil, errDenied(id)
	}
	if err := iam.CheckEtag(in.GetEtag(), cur.GetEtag()); err != nil {
		return nil, err
	}
	// Only a write of the bindings is bound by their version rules.
	if slices.Contains(paths, "bindings") {
		if err := iam.CheckWrite(cur, in); err != nil {
			return nil, err
		}
	}
	next := proto.Clone(cur).(*iampb.Policy)
	for _, p := range paths {
		switch p {
		case "bindings":
			next.Bindings = cloneBindings(in.GetBindings())
		case "audit_configs", "auditConfigs":
			next.AuditConfigs = nil
			for _, ac := range in.GetAuditConfigs() {
				next.AuditConfigs = append(next.AuditConfigs, proto.Clone(ac).(*iampb.AuditConfig))
			}
		}
	}
	// The stored version is what the bindings need: 3 with conditions, 1
	// without, whatever version was sent (iam.PolicyView).
	next.Version = 1
	if iam.HasConditions(next) {
		next.Version = 3
	}
	next.Etag = []byte(s.newEtag())
	s.policies[id] = next
	// The audit entry's serviceData.policyDelta: what this call changed.
	detail.SetPolicyDelta(ctx, cur, next)
	return proto.Clone(next).(*iampb.Policy), nil
}

// memberPrefixes are the principal forms IAM accepts in a binding.
var memberPrefixes = []string{"user:", "serviceAccount:", "group:", "domain:", "principal://", "principalSet://", "deleted:"}

// ValidatePolicy checks what IAM checks of a policy's version, bindings
// (role and member forms, conditions only with version 3) and audit
// configs before storing it. Other fakes with resource-level policies
// (Secret Manager's secrets) check theirs with it too.
func ValidatePolicy(p *iampb.Policy) error {
	if v := p.GetVersion(); v != 0 && v != 1 && v != 3 {
		return status.Errorf(codes.InvalidArgument, "Invalid policy version %d: must be 1 or 3.", v)
	}
	if iam.HasConditions(p) && p.GetVersion() != 3 {
		return status.Error(codes.InvalidArgument, "Request contains an invalid argument: a policy with conditional role bindings must set version 3.")
	}
	for _, b := range p.GetBindings() {
		if !strings.HasPrefix(b.GetRole(), "roles/") && !strings.Contains(b.GetRole(), "/roles/") {
			return status.Errorf(codes.InvalidArgument, "Role (%s) does not exist in the resource's hierarchy.", b.GetRole())
		}
		if len(b.GetMembers()) == 0 {
			return status.Errorf(codes.InvalidArgument, "Binding for role %s has no members.", b.GetRole())
		}
		for _, m := range b.GetMembers() {
			if m == "allUsers" || m == "allAuthenticatedUsers" {
				continue
			}
			if !slices.ContainsFunc(memberPrefixes, func(pre string) bool { return strings.HasPrefix(m, pre) && len(m) > len(pre) }) {
				return status.Errorf(codes.InvalidArgument, "Invalid member %q in binding for role %s: use user:, serviceAccount:, group:, domain: or principal:// forms.", m, b.GetRole())
			}
		}
	}
	for _, ac := range p.GetAuditConfigs() {
		if ac.GetService() == "" {
			return status.Error(codes.InvalidArgument, "AuditConfig.service must be set: a service name or allServices.")
		}
		for _, lc := range ac.GetAuditLogConfigs() {
			if lc.GetLogType() == iampb.AuditLogConfig_LOG_TYPE_UNSPECIFIED {
				return status.Errorf(codes.InvalidArgument, "AuditLogConfig of %s has no log_type.", ac.GetService())
			}
		}
	}
	return nil
}

func cloneBindings(bs []*iampb.Binding) []*iampb.Binding {
	out := make([]*iampb.Binding, 0, len(bs))
	for _, b := range bs {
		out = append(out, proto.Clone(b).(*iampb.Binding))
	}
	return out
}

// MoveProject moves a project under another folder or organization
// (destination_parent "folders/N" or "organizations/N"), as
// projects.move does: the long-running operation is answered done, with
// the moved project as its response
// (https://cloud.google.com/resource-manager/reference/rest/v3/projects/move).
// Whether the caller may also create projects under the destination is
// not modelled: the gate checks resourcemanager.projects.move on the
// project.
func (s *Server) MoveProject(_ context.Context, req *resourcemanagerpb.MoveProjectRequest) (*longrunningpb.Operation, error) {
	id, err := parseProject("name", req.GetName())
	if err != nil {
		return nil, err
	}
	dest := req.GetDestinationParent()
	kind, num, ok := strings.Cut(dest, "/")
	if !ok || (kind != "folders" && kind != "organizations") || num == "" || strings.Contains(num, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid destination_parent %q: use folders/{folder_id} or organizations/{organization_id}.", dest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[id]
	if !ok {
		return nil, errDenied(id)
	}
	next := proto.Clone(p).(*resourcemanagerpb.Project)
	next.Parent = dest
	next.UpdateTime = timestamppb.New(s.now())
	next.Etag = s.newEtag()
	s.projects[id] = next
	resp, err := anypb.New(next)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode the moved project: %v", err)
	}
	return &longrunningpb.Operation{Name: "operations/move." + id, Done: true, Result: &longrunningpb.Operation_Response{Response: resp}}, nil
}
