// Package functions is an in-process fake of the Cloud Functions v2 API
// (google.cloud.functions.v2.FunctionService) for tests and for the
// embedded emulated GCP: the functions deploy made, read and changed
// through the official client. It serves GetFunction, UpdateFunction
// (an update mask, a long-running operation), DeleteFunction (a
// long-running operation) and, through the
// google.iam.v1.IAMPolicy mixin the official client calls, a function's
// Get/SetIamPolicy. Functions are deployed by seeding (SeedFunction), as
// deployment is gcloud's job, not coopguard's.
//
// It follows the API reference
// (https://cloud.google.com/functions/docs/reference/rpc/google.cloud.functions.v2):
// typed names projects/P/locations/R/functions/F, NOT_FOUND for a
// function that does not exist, update_mask paths naming the fields to
// change (all of them when empty), output-only fields refused in a mask,
// and ABORTED on a stale policy etag.
package functions

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/audit/detail"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// Server is the fake FunctionService. Create it with New; it is safe for
// concurrent use.
type Server struct {
	functionspb.UnimplementedFunctionServiceServer

	now func() time.Time

	mu sync.Mutex
	// functions and policies are keyed by the full function name.
	functions map[string]*functionspb.Function
	policies  map[string]*iampb.Policy
	seq       uint64
}

// New returns a Server without functions. now is the clock of update
// times; nil means time.Now.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, functions: map[string]*functionspb.Function{}, policies: map[string]*iampb.Policy{}}
}

// Register registers FunctionService and the IAMPolicy mixin (serving
// functions only) on g, which may carry other fakes too.
func (s *Server) Register(g *grpc.Server) {
	functionspb.RegisterFunctionServiceServer(g, s)
	iampb.RegisterIAMPolicyServer(g, &iamPolicy{s: s})
}

// nameRE is projects/P/locations/R/functions/F: a function id of letters,
// digits, hyphens and underscores, starting with a letter, at most 63.
var nameRE = regexp.MustCompile(`^projects/([^/]+)/locations/([a-z]+-[a-z]+[0-9]+)/functions/([A-Za-z][-A-Za-z0-9_]{0,62})$`)

// parseName checks a function's full name.
func parseName(name string) (string, error) {
	if !nameRE.MatchString(name) {
		return "", status.Errorf(codes.InvalidArgument, "Invalid function name %q: must be projects/{project}/locations/{location}/functions/{function}.", name)
	}
	return name, nil
}

// errNotFound is the answer for a function that does not exist.
func errNotFound(name string) error {
	return status.Errorf(codes.NotFound, "Resource '%s' was not found", name)
}

// SeedFunction deploys (or redeploys) function name in project and
// region, as `gcloud functions deploy --gen2` would: entry point entry,
// running as account, its Cloud Run service of the same name, an IAM
// policy without bindings. It panics on an invalid name, a bug in the
// test, and returns the stored function.
func (s *Server) SeedFunction(project, region, name, entry, account string) *functionspb.Function {
	full := "projects/" + project + "/locations/" + region + "/functions/" + name
	if _, err := parseName(full); err != nil {
		panic("functions: SeedFunction: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fn := &functionspb.Function{
		Name:        full,
		Environment: functionspb.Environment_GEN_2,
		State:       functionspb.Function_ACTIVE,
		BuildConfig: &functionspb.BuildConfig{Runtime: "go125", EntryPoint: entry,
			DockerRepository: "projects/" + project + "/locations/" + region + "/repositories/gcf-artifacts"},
		ServiceConfig: &functionspb.ServiceConfig{Service: "projects/" + project + "/locations/" + region + "/services/" + name,
			ServiceAccountEmail: account, AvailableMemory: "256M", TimeoutSeconds: 60},
		UpdateTime: timestamppb.New(s.now()),
		Labels:     map[string]string{"deployment-tool": "cli-gcloud"},
	}
	s.functions[full] = fn
	if _, ok := s.policies[full]; !ok {
		s.policies[full] = &iampb.Policy{Version: 1, Etag: s.newEtag()}
	}
	return proto.Clone(fn).(*functionspb.Function)
}

// Function returns a clone of a function by its full name, for tests to
// inspect.
func (s *Server) Function(name string) (*functionspb.Function, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn, ok := s.functions[name]
	if !ok {
		return nil, false
	}
	return proto.Clone(fn).(*functionspb.Function), true
}

// Policy returns a clone of a function's IAM policy.
func (s *Server) Policy(name string) (*iampb.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[name]
	if !ok {
		return nil, false
	}
	return proto.Clone(p).(*iampb.Policy), true
}

// GetFunction returns one function.
func (s *Server) GetFunction(_ context.Context, req *functionspb.GetFunctionRequest) (*functionspb.Function, error) {
	name, err := parseName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fn, ok := s.functions[name]
	if !ok {
		return nil, errNotFound(name)
	}
	return proto.Clone(fn).(*functionspb.Function), nil
}

// outputOnly are the Function fields a caller cannot set
// (https://cloud.google.com/functions/docs/reference/rpc/google.cloud.functions.v2#function).
var outputOnly = map[string]bool{
	"name": true, "state": true, "update_time": true, "url": true, "state_messages": true,
	"environment": true, "create_time": true, "satisfies_pzs": true,
	"service_config.service": true, "service_config.uri": true, "service_config.revision": true,
	"build_config.build": true, "event_trigger.trigger": true,
}

// settable are the fields an empty mask replaces: everything a caller
// may set.
var settable = []string{"description", "build_config", "service_config", "event_trigger", "labels", "kms_key_name"}

// UpdateFunction changes the fields of the function that update_mask
// names (every settable field when the mask is empty), taking their
// values from the request's function; the output-only fields of the
// service config (its Cloud Run service and URI) are kept. It answers a
// finished long-running operation whose response is the updated
// function and whose metadata is an OperationMetadata naming it, verb
// "update" (a real update runs a build for minutes; the emulator
// finishes at once, as its Cloud Run fake does).
func (s *Server) UpdateFunction(_ context.Context, req *functionspb.UpdateFunctionRequest) (*longrunningpb.Operation, error) {
	in := req.GetFunction()
	name, err := parseName(in.GetName())
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	for _, p := range paths {
		if outputOnly[p] {
			return nil, status.Errorf(codes.InvalidArgument, "update_mask: %q is an output-only field and cannot be updated.", p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.functions[name]
	if !ok {
		return nil, errNotFound(name)
	}
	next := proto.Clone(cur).(*functionspb.Function)
	src := proto.Clone(in).(*functionspb.Function)
	if len(paths) == 0 {
		paths = settable
	}
	for _, p := range paths {
		if err := copyPath(next.ProtoReflect(), src.ProtoReflect(), p); err != nil {
			return nil, err
		}
	}
	// What the service makes stays its own.
	next.GetServiceConfig().Service = cur.GetServiceConfig().GetService()
	next.GetServiceConfig().Uri = cur.GetServiceConfig().GetUri()
	next.State = functionspb.Function_ACTIVE
	next.UpdateTime = timestamppb.New(s.now())
	s.functions[name] = next
	return s.finished(name, "update", next)
}

// finished is the finished long-running operation of verb on the
// function name, answering resp; the caller holds s.mu.
func (s *Server) finished(name, verb string, resp proto.Message) (*longrunningpb.Operation, error) {
	now := s.now()
	r, err := anypb.New(resp)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	md, err := anypb.New(&functionspb.OperationMetadata{CreateTime: timestamppb.New(now), EndTime: timestamppb.New(now),
		Target: name, Verb: verb, ApiVersion: "v2"})
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	s.seq++
	loc := name[:strings.LastIndex(name, "/functions/")]
	return &longrunningpb.Operation{Name: fmt.Sprintf("%s/operations/operation-%d", loc, s.seq), Done: true,
		Metadata: md, Result: &longrunningpb.Operation_Response{Response: r}}, nil
}

// DeleteFunction removes a function and its IAM policy. It answers a
// finished long-running operation whose response is google.protobuf.Empty
// and whose metadata is an OperationMetadata naming the function, verb
// "delete" (https://cloud.google.com/functions/docs/reference/rpc/google.cloud.functions.v2#deletefunctionrequest);
// a function that does not exist is NOT_FOUND. The function's Cloud Run
// service, which GCP deletes with it, lives in the Cloud Run fake and is
// left there (FIDELITY.md).
func (s *Server) DeleteFunction(_ context.Context, req *functionspb.DeleteFunctionRequest) (*longrunningpb.Operation, error) {
	name, err := parseName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.functions[name]; !ok {
		return nil, errNotFound(name)
	}
	delete(s.functions, name)
	delete(s.policies, name)
	return s.finished(name, "delete", &emptypb.Empty{})
}

// copyPath sets the field at the dotted path of dst to src's value (or
// clears it where src has none); an unknown path is INVALID_ARGUMENT.
func copyPath(dst, src protoreflect.Message, path string) error {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		fd := dst.Descriptor().Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			return status.Errorf(codes.InvalidArgument, "update_mask: unknown field %q of a function.", path)
		}
		if i == len(parts)-1 {
			if src.Has(fd) {
				dst.Set(fd, src.Get(fd))
			} else {
				dst.Clear(fd)
			}
			return nil
		}
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
			return status.Errorf(codes.InvalidArgument, "update_mask: %q does not name a field of a function.", path)
		}
		dst = dst.Mutable(fd).Message()
		src = src.Get(fd).Message()
	}
	return nil
}

// newEtag returns a fresh etag. Callers hold s.mu.
func (s *Server) newEtag() []byte {
	s.seq++
	return []byte(fmt.Sprintf("BwY%x%04x", s.now().UnixMicro(), s.seq))
}

// iamPolicy serves the google.iam.v1.IAMPolicy mixin for functions.
type iamPolicy struct {
	iampb.UnimplementedIAMPolicyServer
	s *Server
}

// GetIamPolicy returns a function's IAM policy.
func (p *iamPolicy) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	name, err := parseName(req.GetResource())
	if err != nil {
		return nil, err
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	pol, ok := p.s.policies[name]
	if !ok {
		return nil, errNotFound(name)
	}
	return proto.Clone(pol).(*iampb.Policy), nil
}

// SetIamPolicy replaces a function's bindings. A policy whose etag is no
// longer current is ABORTED; a role that is not a role name is
// INVALID_ARGUMENT. The audit entry carries the policy delta.
func (p *iamPolicy) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	name, err := parseName(req.GetResource())
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
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	cur, ok := p.s.policies[name]
	if !ok {
		return nil, errNotFound(name)
	}
	if err := iam.CheckEtag(in.GetEtag(), cur.GetEtag()); err != nil {
		return nil, err
	}
	next := &iampb.Policy{Version: 1, Etag: p.s.newEtag()}
	for _, b := range in.GetBindings() {
		next.Bindings = append(next.Bindings, proto.Clone(b).(*iampb.Binding))
	}
	p.s.policies[name] = next
	detail.SetPolicyDelta(ctx, cur, next)
	return proto.Clone(next).(*iampb.Policy), nil
}
