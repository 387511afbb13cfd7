// Package serviceusage is an in-process fake of the Service Usage API's
// GetService (google.api.serviceusage.v1.ServiceUsage) for tests and for
// the embedded emulated GCP of `coopguard serve`: which APIs a project has
// enabled. APIs are enabled by seeding (Enable), as enabling them is the
// operator's job, not coopguard's. The official client talks to it over a
// real gRPC connection.
//
// It follows the API reference
// (https://cloud.google.com/service-usage/docs/reference/rpc/google.api.serviceusage.v1):
// the name is projects/P/services/S; a service not enabled reads as
// DISABLED, not NotFound.
package serviceusage

import (
	"context"
	"strings"
	"sync"

	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Server is the fake ServiceUsage service. Create it with New; it is safe
// for concurrent use.
type Server struct {
	serviceusagepb.UnimplementedServiceUsageServer

	mu sync.Mutex
	// enabled holds "P/S" for each enabled service S of project P.
	enabled map[string]bool
	// billed tells whether a project has billing (enable.go).
	billed func(project string) bool
}

// New returns a Server where no project has any API enabled.
func New() *Server { return &Server{enabled: map[string]bool{}} }

// Register registers the ServiceUsage service on g.
func (s *Server) Register(g *grpc.Server) { serviceusagepb.RegisterServiceUsageServer(g, s) }

// Enable enables (on) or disables (off) service in project, as
// `gcloud services enable|disable` would.
func (s *Server) Enable(project, service string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enabled[project+"/"+service] = on
}

// Enabled reports whether service is enabled in project.
func (s *Server) Enabled(project, service string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enabled[project+"/"+service]
}

// GetService returns one service's state in a project.
func (s *Server) GetService(_ context.Context, req *serviceusagepb.GetServiceRequest) (*serviceusagepb.Service, error) {
	parts := strings.Split(req.GetName(), "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "services" || parts[3] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource name %q: want projects/PROJECT/services/SERVICE", req.GetName())
	}
	state := serviceusagepb.State_DISABLED
	if s.Enabled(parts[1], parts[3]) {
		state = serviceusagepb.State_ENABLED
	}
	return &serviceusagepb.Service{Name: req.GetName(), Parent: "projects/" + parts[1], State: state}, nil
}
