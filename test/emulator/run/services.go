package run

import (
	"context"
	"sort"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// GetService returns one service.
func (s *Server) GetService(_ context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	n, err := parseServiceName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[n.String()]
	if !ok {
		return nil, errNotFound(n)
	}
	return proto.Clone(svc).(*runpb.Service), nil
}

// ListServices lists the services of one project and region in name order.
func (s *Server) ListServices(_ context.Context, req *runpb.ListServicesRequest) (*runpb.ListServicesResponse, error) {
	parent, err := parseLocationName(req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*runpb.Service
	prefix := parent.String() + "/services/"
	for name, svc := range s.services {
		if strings.HasPrefix(name, prefix) {
			all = append(all, svc)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	got, next, err := page(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListServicesResponse{NextPageToken: next}
	for _, svc := range got {
		resp.Services = append(resp.Services, proto.Clone(svc).(*runpb.Service))
	}
	return resp, nil
}

// GetIamPolicy returns a service's IAM policy in the view of the requested
// policy version (iam.PolicyView): Cloud Run services accept conditional
// role bindings.
func (s *Server) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	n, err := parseServiceName(req.GetResource())
	if err != nil {
		return nil, err
	}
	if v := req.GetOptions().GetRequestedPolicyVersion(); v != 0 && v != 1 && v != 3 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid requested_policy_version %d: must be 0, 1 or 3.", v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[n.String()]
	if !ok {
		return nil, errNotFound(n)
	}
	return iam.PolicyView(p, req.GetOptions().GetRequestedPolicyVersion()), nil
}

// SetIamPolicy replaces a service's bindings. A policy carrying an etag
// that is no longer current is refused with ABORTED; the version rules of
// a policy with conditions are IAM's (iam.CheckWrite).
func (s *Server) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	n, err := parseServiceName(req.GetResource())
	if err != nil {
		return nil, err
	}
	in := req.GetPolicy()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "policy is required.")
	}
	for _, b := range in.GetBindings() {
		if !strings.HasPrefix(b.GetRole(), "roles/") && !strings.Contains(b.GetRole(), "/roles/") {
			return nil, status.Errorf(codes.InvalidArgument, "Role %s is not supported for this resource.", b.GetRole())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.policies[n.String()]
	if !ok {
		return nil, errNotFound(n)
	}
	if err := iam.CheckEtag(in.GetEtag(), cur.GetEtag()); err != nil {
		return nil, err
	}
	if err := iam.CheckWrite(cur, in); err != nil {
		return nil, err
	}
	// The stored version is what the bindings need: 3 with conditions, 1
	// without, whatever version was sent (iam.PolicyView).
	next := &iampb.Policy{Version: 1, Etag: []byte(s.newEtag())}
	for _, b := range in.GetBindings() {
		next.Bindings = append(next.Bindings, proto.Clone(b).(*iampb.Binding))
	}
	if iam.HasConditions(next) {
		next.Version = 3
	}
	s.policies[n.String()] = next
	return proto.Clone(next).(*iampb.Policy), nil
}
