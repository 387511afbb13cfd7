// Package run is an in-process fake of Cloud Run Admin API v2's Services
// (google.cloud.run.v2.Services) for tests and for the embedded emulated
// GCP of `coopguard serve`: the Cloud Run services that Cloud Run functions
// (gen2) are, with their IAM policies. It serves GetService, ListServices,
// UpdateService, DeleteService and Get/SetIamPolicy; services are deployed by seeding (SeedService), as
// deployment is gcloud's job, not coopguard's. The official client talks to
// it over a real gRPC connection.
//
// It follows the API reference: typed names
// projects/P/locations/R/services/S, the service's NotFound wording,
// ListServices refusing the "-" location wildcard, page_size/page_token
// paging, and ABORTED on a stale policy etag. Latency and faults come from
// the shared grpc.Server's faults interceptor.
package run

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// InvokerRole is the role that lets a principal call a service.
const InvokerRole = "roles/run.invoker"

// Server is the fake Services service. Create it with New; it is safe for
// concurrent use.
type Server struct {
	runpb.UnimplementedServicesServer

	now func() time.Time

	mu sync.Mutex
	// services and policies are keyed by the full service name.
	services map[string]*runpb.Service
	policies map[string]*iampb.Policy
	etagSeq  uint64
}

// New returns a Server without services. now is the clock for create and
// update times; nil means time.Now.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, services: map[string]*runpb.Service{}, policies: map[string]*iampb.Policy{}}
}

// Register registers the Services service on g, which may carry other
// fakes too, so one listener serves the whole emulated GCP.
func (s *Server) Register(g *grpc.Server) {
	runpb.RegisterServicesServer(g, s)
}

// SeedService deploys (or redeploys) service name in project and region,
// as `gcloud functions deploy --gen2` would, with a policy granting
// roles/run.invoker to invokers (no binding when empty). It bypasses faults
// and call counts and panics on an invalid name, which is a bug in the
// test. It returns the stored service.
func (s *Server) SeedService(project, region, name string, invokers []string) *runpb.Service {
	n := serviceName{locationName{project, region}, name}
	if err := n.check(); err != nil {
		panic("run: SeedService: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := timestamppb.New(s.now())
	gen := int64(1)
	created := now
	if old, ok := s.services[n.String()]; ok {
		gen = old.GetGeneration() + 1
		created = old.GetCreateTime()
	}
	h := sha256.Sum256([]byte(project))
	svc := &runpb.Service{
		Name:               n.String(),
		Uid:                fmt.Sprintf("%x", sha256.Sum256([]byte(n.String())))[:32],
		Generation:         gen,
		ObservedGeneration: gen,
		Labels:             map[string]string{"goog-managed-by": "cloudfunctions"},
		CreateTime:         created,
		UpdateTime:         now,
		Creator:            "coopguard-deployer@" + project + ".iam.gserviceaccount.com",
		Ingress:            runpb.IngressTraffic_INGRESS_TRAFFIC_ALL,
		LaunchStage:        api.LaunchStage_GA,
		Template:           &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: region + "-docker.pkg.dev/" + project + "/gcf-artifacts/" + name}}},
		Traffic:            []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100}},
		Uri:                "https://" + name + "-" + hex.EncodeToString(h[:])[:10] + "-" + region + ".a.run.app",
		Etag:               s.newEtag(),
	}
	s.services[svc.Name] = svc
	pol := &iampb.Policy{Version: 1, Etag: []byte(s.newEtag())}
	if len(invokers) > 0 {
		pol.Bindings = []*iampb.Binding{{Role: InvokerRole, Members: append([]string(nil), invokers...)}}
	}
	s.policies[svc.Name] = pol
	return proto.Clone(svc).(*runpb.Service)
}

// SetInvokerIAMDisabled sets a service's invoker_iam_disabled, which turns
// off the run.invoker check altogether (anyone can call it).
func (s *Server) SetInvokerIAMDisabled(project, region, name string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[serviceName{locationName{project, region}, name}.String()]
	if !ok {
		panic("run: SetInvokerIAMDisabled: no service " + name)
	}
	svc.InvokerIamDisabled = disabled
	svc.Etag = s.newEtag()
}

// Service returns a clone of a service, for tests to inspect.
func (s *Server) Service(project, region, name string) (*runpb.Service, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[serviceName{locationName{project, region}, name}.String()]
	if !ok {
		return nil, false
	}
	return proto.Clone(svc).(*runpb.Service), true
}

// newEtag returns a fresh quoted etag. Callers hold s.mu.
func (s *Server) newEtag() string {
	s.etagSeq++
	return fmt.Sprintf("%q", fmt.Sprintf("%x%04x", s.now().UnixMicro(), s.etagSeq))
}
