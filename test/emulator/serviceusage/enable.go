package serviceusage

import (
	"context"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// SetBillingCheck tells EnableService whether a project has billing
// enabled (Cloud Billing's fake); without it every project has.
func (s *Server) SetBillingCheck(billed func(project string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.billed = billed
}

// EnableService enables a service in a project
// (https://cloud.google.com/service-usage/docs/reference/rest/v1/services/enable):
// the operation is answered done with the enabled service. A project
// without billing is refused FAILED_PRECONDITION, reason
// UREQ_PROJECT_BILLING_NOT_FOUND, as gcloud services enable shows for
// compute.googleapis.com (kyegomez/zeta#71,
// GoogleCloudPlatform/deploystack#52); the emulator asks it of every
// service, the stricter model. Only *.googleapis.com names are accepted.
func (s *Server) EnableService(_ context.Context, req *serviceusagepb.EnableServiceRequest) (*longrunningpb.Operation, error) {
	parts := strings.Split(req.GetName(), "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "services" || !strings.HasSuffix(parts[3], ".googleapis.com") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource name %q: want projects/PROJECT/services/NAME.googleapis.com", req.GetName())
	}
	project, service := parts[1], parts[3]
	s.mu.Lock()
	billed := s.billed
	s.mu.Unlock()
	if billed != nil && !billed(project) {
		st := status.Newf(codes.FailedPrecondition, "Billing account for project '%s' is not found. Billing must be enabled for activation of service(s) '%s' to proceed.", project, service)
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "UREQ_PROJECT_BILLING_NOT_FOUND", Domain: "serviceusage.googleapis.com/billing-enabled",
			Metadata: map[string]string{"project": project, "services": service}}); err == nil {
			st = d
		}
		return nil, st.Err()
	}
	s.Enable(project, service, true)
	resp, err := anypb.New(&serviceusagepb.EnableServiceResponse{Service: &serviceusagepb.Service{
		Name: req.GetName(), Parent: "projects/" + project, State: serviceusagepb.State_ENABLED}})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode the enabled service: %v", err)
	}
	return &longrunningpb.Operation{Name: "operations/acf." + project + "." + service, Done: true,
		Result: &longrunningpb.Operation_Response{Response: resp}}, nil
}
