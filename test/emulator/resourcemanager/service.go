// Package resourcemanager is an in-process fake of Resource Manager's
// Projects service (google.cloud.resourcemanager.v3.Projects) for tests and
// for the embedded emulated GCP of `coopguard serve`: project IAM policies
// (bindings and audit configs, etags) and GetProject. The official client
// talks to it over a real gRPC connection.
//
// It follows the API reference where coopguard can tell: a project the
// caller cannot see answers PERMISSION_DENIED (the service never says
// whether a project exists), SetIamPolicy applies the default update mask
// "bindings,etag" so audit configs change only when the mask names them,
// a stale etag answers ABORTED, and conditional bindings need policy
// version 3. Latency and faults come from the shared grpc.Server's faults
// interceptor.
package resourcemanager

import (
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Server is the fake Projects service. Create it with New; it is safe for
// concurrent use.
type Server struct {
	resourcemanagerpb.UnimplementedProjectsServer

	now func() time.Time

	mu sync.Mutex
	// projects is keyed by project id; a project exists once a test seeds
	// it (SeedProject or SetPolicy).
	projects map[string]*resourcemanagerpb.Project
	// policies is keyed by project id.
	policies map[string]*iampb.Policy
	// folders and their policies are keyed by name, "folders/N"
	// (folders.go).
	folders        map[string]*resourcemanagerpb.Folder
	folderPolicies map[string]*iampb.Policy
	// etagSeq makes every etag distinct, which is all clients may rely on.
	etagSeq uint64
}

// New returns a Server without projects. now is the clock for create and
// update times; nil means time.Now.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, projects: map[string]*resourcemanagerpb.Project{}, policies: map[string]*iampb.Policy{},
		folders: map[string]*resourcemanagerpb.Folder{}, folderPolicies: map[string]*iampb.Policy{}}
}

// Register registers the Projects service on g, which may carry other
// fakes too, so one listener serves the whole emulated GCP.
func (s *Server) Register(g *grpc.Server) {
	resourcemanagerpb.RegisterProjectsServer(g, s)
	resourcemanagerpb.RegisterFoldersServer(g, &Folders{s: s})
}

// SeedProject makes project visible (ACTIVE, with an empty IAM policy) and
// returns it; seeding an existing project changes nothing.
func (s *Server) SeedProject(project string) *resourcemanagerpb.Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.seed(project)).(*resourcemanagerpb.Project)
}

// seed creates project if missing. Callers hold s.mu.
func (s *Server) seed(project string) *resourcemanagerpb.Project {
	if p, ok := s.projects[project]; ok {
		return p
	}
	now := timestamppb.New(s.now())
	p := &resourcemanagerpb.Project{
		Name:        fmt.Sprintf("projects/%d", ProjectNumber(project)),
		ProjectId:   project,
		State:       resourcemanagerpb.Project_ACTIVE,
		DisplayName: project,
		CreateTime:  now,
		UpdateTime:  now,
		Etag:        s.newEtag(),
	}
	s.projects[project] = p
	s.policies[project] = &iampb.Policy{Version: 1, Etag: []byte(s.newEtag())}
	return p
}

// SetPolicy replaces project's IAM policy (seeding the project), bypassing
// faults, call counts, validation and etags: tests use it to start from
// any policy, including ones the API would refuse. A fresh etag is set.
func (s *Server) SetPolicy(project string, p *iampb.Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seed(project)
	cp := proto.Clone(p).(*iampb.Policy)
	if cp.Version == 0 {
		cp.Version = 1
	}
	cp.Etag = []byte(s.newEtag())
	s.policies[project] = cp
}

// UpdatePolicy changes project's IAM policy in place under the server's
// lock (seeding, as SetPolicy: a new etag, no audit entry), so that
// concurrent seeders do not lose each other's changes.
func (s *Server) UpdatePolicy(project string, change func(*iampb.Policy)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seed(project)
	p := &iampb.Policy{Version: 1}
	if cur, ok := s.policies[project]; ok {
		p = proto.Clone(cur).(*iampb.Policy)
	}
	change(p)
	p.Etag = []byte(s.newEtag())
	s.policies[project] = p
}

// PolicySnapshot returns project's IAM policy as stored, without a copy,
// for the emulated IAM's every permission check. Stored policies are
// never changed in place (every write stores a new one), so the snapshot
// stays as it was; callers must not modify it.
func (s *Server) PolicySnapshot(project string) (*iampb.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[project]
	return p, ok
}

// Policy returns a clone of project's IAM policy, for tests to inspect.
func (s *Server) Policy(project string) (*iampb.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[project]
	if !ok {
		return nil, false
	}
	return proto.Clone(p).(*iampb.Policy), true
}

// newEtag returns a fresh etag (the service's are opaque base64 bytes).
// Callers hold s.mu.
func (s *Server) newEtag() string {
	s.etagSeq++
	return fmt.Sprintf("BwY%x%04x", s.now().UnixMicro(), s.etagSeq)
}

// ProjectNumber is the emulated project number of a project id: stable,
// 12 digits like real ones, and the same in every fake, so a resource
// named by number in one service's response is found by that number in
// another's request.
func ProjectNumber(projectID string) int64 {
	h := fnv.New64a()
	h.Write([]byte(projectID))
	return int64(100000000000 + h.Sum64()%900000000000)
}
