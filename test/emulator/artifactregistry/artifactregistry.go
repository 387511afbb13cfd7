// Package artifactregistry is an in-process fake of Artifact Registry's
// ListRepositories (google.devtools.artifactregistry.v1.ArtifactRegistry)
// for tests and for the embedded emulated GCP of `coopguard serve`: the
// repositories of a project and location, with their vulnerability
// scanning config. Repositories are created by seeding (SeedRepository).
// The official client talks to it over a real gRPC connection.
//
// It follows the API reference
// (https://cloud.google.com/artifact-registry/docs/reference/rpc/google.devtools.artifactregistry.v1):
// parent projects/P/locations/L, page_size/page_token paging (at most
// 1,000), and the output-only enablement_state derived from the
// repository's enablement_config and whether the Container Scanning API
// is enabled (SCANNING_ACTIVE only for a Docker repository not DISABLED in
// a project with the API on).
package artifactregistry

import (
	"context"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/paging"
)

// ScanningAPI is the API that scans Docker images automatically.
const ScanningAPI = "containerscanning.googleapis.com"

type (
	rpb = artifactregistrypb.Repository
	vsc = artifactregistrypb.Repository_VulnerabilityScanningConfig
)

// pageLimits are ListRepositories' page sizes (API reference).
var pageLimits = paging.Limits{Default: 1000, Max: 1000}

// Server is the fake ArtifactRegistry service. Create it with New; it is
// safe for concurrent use.
type Server struct {
	artifactregistrypb.UnimplementedArtifactRegistryServer

	// apiEnabled reports whether ScanningAPI is on in a project.
	apiEnabled func(project, service string) bool

	mu    sync.Mutex
	repos map[string]*rpb // by full name
}

// New returns a Server without repositories; apiEnabled reports whether a
// service is enabled in a project (the emulated Service Usage).
func New(apiEnabled func(project, service string) bool) *Server {
	return &Server{apiEnabled: apiEnabled, repos: map[string]*rpb{}}
}

// Register registers the ArtifactRegistry service on g.
func (s *Server) Register(g *grpc.Server) { artifactregistrypb.RegisterArtifactRegistryServer(g, s) }

// SeedRepository creates (or replaces) repository id in project and
// location with format and scanning config cfg (UNSPECIFIED reads as
// INHERITED for Docker, DISABLED otherwise).
func (s *Server) SeedRepository(project, location, id string, format artifactregistrypb.Repository_Format, cfg artifactregistrypb.Repository_VulnerabilityScanningConfig_EnablementConfig) {
	name := "projects/" + project + "/locations/" + location + "/repositories/" + id
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[name] = &rpb{Name: name, Format: format, VulnerabilityScanningConfig: &vsc{EnablementConfig: cfg}}
}

// ListRepositories lists the repositories of one project and location in
// name order.
func (s *Server) ListRepositories(_ context.Context, req *artifactregistrypb.ListRepositoriesRequest) (*artifactregistrypb.ListRepositoriesResponse, error) {
	parts := strings.Split(req.GetParent(), "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "locations" || parts[3] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "invalid parent %q: want projects/PROJECT/locations/LOCATION", req.GetParent())
	}
	on := s.apiEnabled(parts[1], ScanningAPI)
	s.mu.Lock()
	var all []*rpb
	for name, r := range s.repos {
		if strings.HasPrefix(name, req.GetParent()+"/repositories/") {
			all = append(all, withState(proto.Clone(r).(*rpb), on))
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	got, next, err := paging.Page(pageLimits, all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &artifactregistrypb.ListRepositoriesResponse{Repositories: got, NextPageToken: next}, nil
}

// withState fills the output-only enablement state of r from its config
// and whether the scanning API is on.
func withState(r *rpb, apiOn bool) *rpb {
	c := r.GetVulnerabilityScanningConfig()
	docker := r.GetFormat() == artifactregistrypb.Repository_DOCKER
	switch {
	case !docker:
		c.EnablementState = artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_UNSUPPORTED
		c.EnablementStateReason = "Vulnerability scanning is only supported for Docker repositories."
	case c.GetEnablementConfig() == artifactregistrypb.Repository_VulnerabilityScanningConfig_DISABLED:
		c.EnablementState = artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_DISABLED
		c.EnablementStateReason = "Repository has scanning disabled."
	case !apiOn:
		c.EnablementState = artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_DISABLED
		c.EnablementStateReason = "API " + ScanningAPI + " is not enabled."
	default:
		c.EnablementState = artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_ACTIVE
		c.EnablementStateReason = ""
	}
	return r
}
