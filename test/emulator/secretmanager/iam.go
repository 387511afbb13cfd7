package secretmanager

import (
	"context"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// secretPermissions are the permissions that apply to a secret, the only
// ones TestIamPermissions on a secret accepts (Secret Manager access
// control reference).
var secretPermissions = []string{
	"secretmanager.secrets.delete",
	"secretmanager.secrets.get",
	"secretmanager.secrets.getIamPolicy",
	"secretmanager.secrets.setIamPolicy",
	"secretmanager.secrets.update",
	"secretmanager.versions.access",
	"secretmanager.versions.add",
	"secretmanager.versions.destroy",
	"secretmanager.versions.disable",
	"secretmanager.versions.enable",
	"secretmanager.versions.get",
	"secretmanager.versions.list",
}

// PermissionTester answers TestIamPermissions for the caller of ctx on a
// secret (by number): the subset of perms the caller holds there. The
// emulated IAM installs one with SetPermissionTester.
type PermissionTester func(ctx context.Context, secret string, perms []string) ([]string, error)

// SetPermissionTester makes TestIamPermissions ask f. Without one the
// fake enforces nothing, so every valid permission is granted.
func (s *Server) SetPermissionTester(f PermissionTester) {
	s.mu.Lock()
	defer s.unlock()
	s.tester = f
}

// GetIamPolicy returns a secret's own IAM policy (not the project's): its
// bindings and the etag a later SetIamPolicy must carry, in the view of
// the requested policy version (iam.PolicyView).
func (s *Server) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	name, err := parseSecretName(req.GetResource())
	if err != nil {
		return nil, err
	}
	if v := req.GetOptions().GetRequestedPolicyVersion(); v != 0 && v != 1 && v != 3 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid requested_policy_version %d: must be 0, 1 or 3.", v)
	}
	s.mu.Lock()
	defer s.unlock()
	if _, err := s.secret(name); err != nil {
		return nil, err
	}
	return iam.PolicyView(s.policy(name.String()), req.GetOptions().GetRequestedPolicyVersion()), nil
}

// policy returns the stored policy of a secret, creating the empty one a
// new secret has. Callers hold s.mu and have checked the secret exists.
func (s *Server) policy(secret string) *iampb.Policy {
	p, ok := s.policies[secret]
	if !ok {
		p = &iampb.Policy{Version: 1, Etag: []byte(s.newEtag())}
		s.policies[secret] = p
	}
	return p
}

// SetIamPolicy replaces the bindings of a secret's policy. The update mask
// defaults to "bindings,etag"; audit configs belong to projects, folders
// and organizations, never to a secret, so they are refused. A policy
// carrying a stale etag is refused with ABORTED, as IAM does.
func (s *Server) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	name, err := parseSecretName(req.GetResource())
	if err != nil {
		return nil, err
	}
	in := req.GetPolicy()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: policy is required.")
	}
	for _, p := range req.GetUpdateMask().GetPaths() {
		if p != "bindings" && p != "etag" && p != "version" {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q: a secret's policy has bindings and etag only.", p)
		}
	}
	if len(in.GetAuditConfigs()) > 0 {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: audit configs can be set on projects, folders and organizations, not on a secret.")
	}
	if err := resourcemanager.ValidatePolicy(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	if _, err := s.secret(name); err != nil {
		return nil, err
	}
	cur := s.policy(name.String())
	if err := iam.CheckEtag(in.GetEtag(), cur.GetEtag()); err != nil {
		return nil, err
	}
	if err := iam.CheckWrite(cur, in); err != nil {
		return nil, err
	}
	// The stored version is what the bindings need: 3 with conditions, 1
	// without, whatever version was sent (iam.PolicyView).
	next := &iampb.Policy{Version: 1}
	for _, b := range in.GetBindings() {
		next.Bindings = append(next.Bindings, proto.Clone(b).(*iampb.Binding))
		if b.GetCondition() != nil {
			next.Version = 3
		}
	}
	next.Etag = []byte(s.newEtag())
	s.policies[name.String()] = next
	return proto.Clone(next).(*iampb.Policy), nil
}

// TestIamPermissions returns the permissions, among those asked, that the
// caller holds on the secret. Permissions that do not apply to a secret
// (or wildcards) are INVALID_ARGUMENT.
func (s *Server) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	name, err := parseSecretName(req.GetResource())
	if err != nil {
		return nil, err
	}
	for _, p := range req.GetPermissions() {
		if !slices.Contains(secretPermissions, p) {
			return nil, status.Errorf(codes.InvalidArgument, "Permission %s is not valid for a secret: use one of %s.", p, strings.Join(secretPermissions, ", "))
		}
	}
	s.mu.Lock()
	_, err = s.secret(name)
	tester := s.tester
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if tester == nil {
		return &iampb.TestIamPermissionsResponse{Permissions: slices.Clone(req.GetPermissions())}, nil
	}
	held, err := tester(ctx, name.String(), slices.Clone(req.GetPermissions()))
	if err != nil {
		return nil, err
	}
	return &iampb.TestIamPermissionsResponse{Permissions: held}, nil
}

// Policy returns a copy of a secret's own IAM policy (secretName by
// project id or number), or nil when the secret does not exist. The
// emulated IAM combines it with the project's policy to decide a call on
// the secret or its versions.
func (s *Server) Policy(secretName string) *iampb.Policy {
	name, err := parseSecretName(secretName)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.unlock()
	if _, ok := s.secrets[name.String()]; !ok {
		return nil
	}
	return proto.Clone(s.policy(name.String())).(*iampb.Policy)
}
