// Package secretmanager is an in-process fake of Secret Manager
// (google.cloud.secretmanager.v1.SecretManagerService) for tests and for the
// embedded emulated GCP of `coopguard serve`. The official client talks to it
// over a real gRPC connection, so the code under test cannot tell it from the
// service except by what it does not implement.
//
// It follows the API reference: typed resource names, the service's error
// codes and wording, etags checked and renewed on every change, versions
// numbered per secret, the `latest` alias, page_size/page_token paging,
// names by project number whichever form the request used, and each
// secret's own IAM policy (Policy gives it to the emulated IAM).
// Latency and faults are not its job: the shared grpc.Server carries the
// faults interceptor.
package secretmanager

import (
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Server is the fake SecretManagerService. Create it with New; it is safe
// for concurrent use.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	now func() time.Time

	mu sync.Mutex
	// secrets is keyed by the full secret name, projects/P/secrets/S.
	secrets map[string]*secretmanagerpb.Secret
	// versions is keyed by the full version name, projects/P/secrets/S/versions/N.
	versions map[string]*storedVersion
	// lastVersion holds the highest version number handed out per secret, so
	// numbers are never reused while the secret lives, as in the service.
	lastVersion map[string]int64
	// policies holds each secret's own IAM policy, keyed like secrets;
	// created empty on first read, dropped with the secret.
	policies map[string]*iampb.Policy
	// tester answers TestIamPermissions when the emulated IAM is on.
	tester PermissionTester
	// publish sends event notifications; nil sends none.
	publish Publisher
	// outMu guards outbox, the notifications queued under mu and not yet
	// published, and flushing, set while a caller publishes them (mu is
	// never held while publishing; outMu is taken after mu, never before).
	outMu    sync.Mutex
	outbox   []outgoing
	flushing bool
	// etagSeq makes every etag distinct, which is all clients may rely on.
	etagSeq uint64
}

// New returns an empty Server. now is the clock used for create, destroy
// and rotation times; nil means time.Now. Tests pass their own to control
// time without sleeping.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{
		now:         now,
		secrets:     map[string]*secretmanagerpb.Secret{},
		versions:    map[string]*storedVersion{},
		lastVersion: map[string]int64{},
		policies:    map[string]*iampb.Policy{},
	}
}

// Register registers the SecretManagerService on g, which may carry other
// fakes too, so one listener serves the whole emulated GCP.
func (s *Server) Register(g *grpc.Server) {
	secretmanagerpb.RegisterSecretManagerServiceServer(g, s)
}

// nowPB is the fake's clock as a protobuf timestamp.
func (s *Server) nowPB() *timestamppb.Timestamp {
	return timestamppb.New(s.now())
}

// newEtag returns a fresh quoted etag, shaped like the service's.
// Callers hold s.mu.
func (s *Server) newEtag() string {
	s.etagSeq++
	return fmt.Sprintf("%q", fmt.Sprintf("%x%04x", s.now().UnixMicro(), s.etagSeq))
}
