// Package billing is an in-process fake of Cloud Billing's CloudBilling
// service (google.cloud.billing.v1) for tests and the emulated GCP: billing
// accounts (seeded, open or closed), the billing account linked to each
// project (projects.getBillingInfo, projects.updateBillingInfo) and the
// accounts' IAM policies. The official client
// (cloud.google.com/go/billing/apiv1, gRPC) talks to it.
//
// From the reference
// (https://cloud.google.com/billing/docs/reference/rest/v1/projects/updateBillingInfo,
// .../projects/getBillingInfo): the name is projects/{project_id}/billingInfo,
// billingEnabled is true only with an open account, an unknown account is
// refused, an empty billingAccountName unlinks. The permissions (checked
// by the gate, test/emulator/audit): resourcemanager.projects.get to read,
// resourcemanager.projects.createBillingAssignment on the project and
// billing.resourceAssociations.create on the account to link
// (https://cloud.google.com/billing/docs/how-to/modify-project#required-permissions).
package billing

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// accountName is a billing account's resource name
// (billingAccounts/XXXXXX-XXXXXX-XXXXXX, BillingAccount.name reference).
var accountName = regexp.MustCompile(`^billingAccounts/[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$`)

// Server is the fake CloudBilling service; safe for concurrent use.
type Server struct {
	billingpb.UnimplementedCloudBillingServer

	// projectExists reports whether a project id exists (Resource
	// Manager's fake): billing is linked to existing projects only.
	projectExists func(id string) bool

	mu       sync.Mutex
	accounts map[string]*billingpb.BillingAccount
	policies map[string]*iampb.Policy
	links    map[string]string // project id → account name
	etagSeq  int
}

// New returns a Server without accounts; projectExists tells which
// project ids exist.
func New(projectExists func(id string) bool) *Server {
	return &Server{projectExists: projectExists, accounts: map[string]*billingpb.BillingAccount{},
		policies: map[string]*iampb.Policy{}, links: map[string]string{}}
}

// Register registers the service on g.
func (s *Server) Register(g *grpc.Server) { billingpb.RegisterCloudBillingServer(g, s) }

// SeedAccount makes a billing account exist (open or closed) with an empty
// IAM policy; seeding it again sets whether it is open.
func (s *Server) SeedAccount(name string, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[name]; ok {
		a.Open = open
		return
	}
	s.accounts[name] = &billingpb.BillingAccount{Name: name, Open: open, DisplayName: "emulated " + name}
	s.policies[name] = &iampb.Policy{Version: 1, Etag: s.etag()}
}

// Linked returns the billing account linked to project ("" when none).
func (s *Server) Linked(project string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.links[project]
}

// Enabled reports whether project is linked to an open billing account
// (ProjectBillingInfo.billing_enabled).
func (s *Server) Enabled(project string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info(project).GetBillingEnabled()
}

// PolicySnapshot returns a billing account's stored IAM policy for the
// emulated IAM (never changed in place).
func (s *Server) PolicySnapshot(account string) (*iampb.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[account]
	return p, ok
}

func (s *Server) etag() []byte {
	s.etagSeq++
	return fmt.Appendf(nil, "BwBill%04x", s.etagSeq)
}

func projectOf(name string) (string, error) {
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", status.Errorf(codes.InvalidArgument, "Invalid name %q: want projects/{project_id}.", name)
	}
	return id, nil
}

// info is a project's ProjectBillingInfo. Callers hold s.mu.
func (s *Server) info(id string) *billingpb.ProjectBillingInfo {
	acct := s.links[id]
	a, ok := s.accounts[acct]
	return &billingpb.ProjectBillingInfo{Name: "projects/" + id + "/billingInfo", ProjectId: id,
		BillingAccountName: acct, BillingEnabled: ok && a.GetOpen()}
}

// GetProjectBillingInfo returns the account linked to a project.
func (s *Server) GetProjectBillingInfo(_ context.Context, req *billingpb.GetProjectBillingInfoRequest) (*billingpb.ProjectBillingInfo, error) {
	id, err := projectOf(req.GetName())
	if err != nil {
		return nil, err
	}
	if !s.projectExists(id) {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (project %s)", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info(id), nil
}

// UpdateProjectBillingInfo links a project to an existing billing account
// (or unlinks it with an empty name).
func (s *Server) UpdateProjectBillingInfo(_ context.Context, req *billingpb.UpdateProjectBillingInfoRequest) (*billingpb.ProjectBillingInfo, error) {
	id, err := projectOf(req.GetName())
	if err != nil {
		return nil, err
	}
	if !s.projectExists(id) {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (project %s)", id)
	}
	acct := req.GetProjectBillingInfo().GetBillingAccountName()
	if acct != "" && !accountName.MatchString(acct) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid billing_account_name %q: want billingAccounts/XXXXXX-XXXXXX-XXXXXX.", acct)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[acct]; acct != "" && !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (billing account %s)", acct)
	}
	if acct == "" {
		delete(s.links, id)
	} else {
		s.links[id] = acct
	}
	return s.info(id), nil
}

// GetBillingAccount returns a seeded account.
func (s *Server) GetBillingAccount(_ context.Context, req *billingpb.GetBillingAccountRequest) (*billingpb.BillingAccount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (billing account %s)", req.GetName())
	}
	return proto.Clone(a).(*billingpb.BillingAccount), nil
}

// GetIamPolicy returns a billing account's policy.
func (s *Server) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[req.GetResource()]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (billing account %s)", req.GetResource())
	}
	return iam.PolicyView(p, req.GetOptions().GetRequestedPolicyVersion()), nil
}

// SetIamPolicy replaces a billing account's bindings; a stale etag is
// ABORTED.
func (s *Server) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	in := req.GetPolicy()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: policy is required.")
	}
	if err := resourcemanager.ValidatePolicy(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.policies[req.GetResource()]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission (billing account %s)", req.GetResource())
	}
	if err := iam.CheckEtag(in.GetEtag(), cur.GetEtag()); err != nil {
		return nil, err
	}
	if err := iam.CheckWrite(cur, in); err != nil {
		return nil, err
	}
	next := &iampb.Policy{Version: 1, Etag: s.etag()}
	for _, b := range in.GetBindings() {
		next.Bindings = append(next.Bindings, proto.Clone(b).(*iampb.Binding))
	}
	if iam.HasConditions(next) {
		next.Version = 3
	}
	s.policies[req.GetResource()] = next
	return proto.Clone(next).(*iampb.Policy), nil
}
