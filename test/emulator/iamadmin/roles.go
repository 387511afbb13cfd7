package iamadmin

import (
	"context"
	"crypto/sha256"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/audit/detail"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// RoleSource returns a custom role's permissions by its full name
// ("projects/<p>/roles/<id>"), or false when no such role exists.
type RoleSource func(name string) (permissions []string, ok bool)

// PolicyStore holds the allow policies of service accounts, keyed by
// "projects/<project>/serviceAccounts/<email>": the policies the emulated
// IAM evaluates, so a grant made through the API takes effect.
type PolicyStore interface {
	Policy(resource string) (*iampb.Policy, bool)
	SetPolicy(resource string, p *iampb.Policy)
}

// SetRoles makes GetRole answer for the custom roles src knows.
func (s *Server) SetRoles(src RoleSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles = src
}

// SetPolicies makes GetIamPolicy and SetIamPolicy of service accounts read
// and write store.
func (s *Server) SetPolicies(store PolicyStore) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies = store
}

// GetRole returns a custom role of a project or organisation with its
// permissions. Predefined roles ("roles/…") are not modelled: the
// emulated IAM knows them only as permission patterns, not GCP's exact
// lists, so it answers UNIMPLEMENTED rather than a wrong list.
func (s *Server) GetRole(_ context.Context, req *adminpb.GetRoleRequest) (*adminpb.Role, error) {
	name := req.GetName()
	seg := strings.Split(name, "/")
	switch {
	case len(seg) == 2 && seg[0] == "roles":
		return nil, status.Errorf(codes.Unimplemented, "the emulated IAM does not serve predefined role %s: it serves custom roles only", name)
	case len(seg) != 4 || (seg[0] != "projects" && seg[0] != "organizations") || seg[1] == "" || seg[2] != "roles" || seg[3] == "":
		return nil, status.Errorf(codes.InvalidArgument, "Invalid role name %q: use roles/{ROLE}, projects/{PROJECT_ID}/roles/{ROLE} or organizations/{ORGANIZATION_ID}/roles/{ROLE}.", name)
	}
	s.mu.Lock()
	src := s.roles
	s.mu.Unlock()
	var perms []string
	ok := false
	if src != nil {
		perms, ok = src(name)
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "The role named %s was not found.", name)
	}
	etag := sha256.Sum256([]byte(strings.Join(perms, ",")))
	return &adminpb.Role{
		Name:                name,
		Title:               seg[3],
		IncludedPermissions: perms,
		Stage:               adminpb.Role_GA,
		Etag:                etag[:8],
	}, nil
}

// policyResource checks a service account resource name and returns the
// key its policy is stored under. Callers hold s.mu.
func (s *Server) policyResource(resource string) (string, error) {
	sa, err := s.account(resource)
	if err != nil {
		return "", err
	}
	if s.policies == nil {
		return "", status.Errorf(codes.Unimplemented, "the emulated IAM has no policy store for service accounts")
	}
	return "projects/" + sa.GetProjectId() + "/serviceAccounts/" + sa.GetEmail(), nil
}

// GetIamPolicy returns a service account's allow policy (empty when none
// was set, with an etag as GCP gives), in the view of the requested
// policy version (iam.PolicyView); the etag is the stored policy's.
func (s *Server) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, err := s.policyResource(req.GetResource())
	if err != nil {
		return nil, err
	}
	p, ok := s.policies.Policy(key)
	if !ok {
		p = &iampb.Policy{Version: 1}
	}
	v := iam.PolicyView(p, req.GetOptions().GetRequestedPolicyVersion())
	v.Etag = policyEtag(p)
	return v, nil
}

// SetIamPolicy replaces a service account's allow policy. A stale etag is
// refused with ABORTED, as IAM does for a concurrent change
// (https://cloud.google.com/iam/docs/policies#etag).
func (s *Server) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, err := s.policyResource(req.GetResource())
	if err != nil {
		return nil, err
	}
	if req.GetPolicy() == nil {
		return nil, status.Error(codes.InvalidArgument, "policy is required")
	}
	old, ok := s.policies.Policy(key)
	if !ok {
		old = &iampb.Policy{Version: 1}
	}
	if err := iam.CheckEtag(req.GetPolicy().GetEtag(), []byte(policyEtag(old))); err != nil {
		return nil, err
	}
	if err := resourcemanager.ValidatePolicy(req.GetPolicy()); err != nil {
		return nil, err
	}
	if err := iam.CheckWrite(old, req.GetPolicy()); err != nil {
		return nil, err
	}
	// Stored at the version its bindings need: 3 with conditions, else 1.
	p := iam.PolicyView(req.GetPolicy(), 3)
	p.Etag = nil
	s.policies.SetPolicy(key, p)
	// The audit entry's serviceData.policyDelta: what this call changed.
	detail.SetPolicyDelta(ctx, old, p)
	p.Etag = policyEtag(p)
	return p, nil
}

// policyEtag is a policy's etag: a hash of its content without the etag.
func policyEtag(p *iampb.Policy) []byte {
	c := proto.Clone(p).(*iampb.Policy)
	c.Etag = nil
	return contentEtag(c)
}

// contentEtag hashes a message (its etag field cleared by the caller).
func contentEtag(m proto.Message) []byte {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	h := sha256.Sum256(b)
	return h[:8]
}
