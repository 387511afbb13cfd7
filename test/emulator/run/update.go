package run

import (
	"context"
	"fmt"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// UpdateService replaces a service's revision template (what it runs: a
// function's code is its container image), as `gcloud run deploy` does on
// the service a gen2 function is. It answers a finished long-running
// operation whose response and metadata are the updated service
// (https://cloud.google.com/run/docs/reference/rpc/google.cloud.run.v2#google.cloud.run.v2.Services.UpdateService).
// An unknown service is NOT_FOUND unless allow_missing (which the fake does
// not model: it refuses it, as deployment is seeded); an etag that is no
// longer current is ABORTED; validate_only changes nothing. Only the
// template, labels and description are taken from the request.
func (s *Server) UpdateService(_ context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	in := req.GetService()
	n, err := parseServiceName(in.GetName())
	if err != nil {
		return nil, err
	}
	if in.GetTemplate() == nil || len(in.GetTemplate().GetContainers()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "service.template.containers: a service needs at least one container.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.services[n.String()]
	if !ok {
		if req.GetAllowMissing() {
			return nil, status.Error(codes.Unimplemented, "the emulated Cloud Run creates services by seeding only (allow_missing)")
		}
		return nil, errNotFound(n)
	}
	if in.GetEtag() != "" && in.GetEtag() != cur.GetEtag() {
		return nil, status.Error(codes.Aborted, "The service's etag does not match: read it again and retry.")
	}
	next := proto.Clone(cur).(*runpb.Service)
	next.Template = proto.Clone(in.GetTemplate()).(*runpb.RevisionTemplate)
	if in.GetLabels() != nil {
		next.Labels = in.GetLabels()
	}
	if in.GetDescription() != "" {
		next.Description = in.GetDescription()
	}
	if !req.GetValidateOnly() {
		next.Generation = cur.GetGeneration() + 1
		next.ObservedGeneration = next.Generation
		next.UpdateTime = timestamppb.New(s.now())
		next.Etag = s.newEtag()
		s.services[n.String()] = next
	}
	return s.finished(n, next)
}

// finished is the finished long-running operation on service n whose
// metadata and response are svc; the caller holds s.mu.
func (s *Server) finished(n serviceName, svc *runpb.Service) (*longrunningpb.Operation, error) {
	resp, err := anypb.New(svc)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	s.etagSeq++
	return &longrunningpb.Operation{
		Name:     fmt.Sprintf("%s/operations/%x", n.locationName.String(), s.etagSeq),
		Done:     true,
		Metadata: resp,
		Result:   &longrunningpb.Operation_Response{Response: resp},
	}, nil
}

// DeleteService deletes a service and its IAM policy, as deleting the
// function it is does
// (https://cloud.google.com/run/docs/reference/rpc/google.cloud.run.v2#google.cloud.run.v2.Services.DeleteService):
// it answers a finished long-running operation whose response and
// metadata are the deleted service. An unknown service is NOT_FOUND; an
// etag that is not the service's current one is ABORTED (the stricter
// reading of "detect modification conflict"); validate_only deletes
// nothing.
func (s *Server) DeleteService(_ context.Context, req *runpb.DeleteServiceRequest) (*longrunningpb.Operation, error) {
	n, err := parseServiceName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.services[n.String()]
	if !ok {
		return nil, errNotFound(n)
	}
	if e := req.GetEtag(); e != "" && e != cur.GetEtag() {
		return nil, status.Error(codes.Aborted, "The service's etag does not match: read it again and retry.")
	}
	gone := proto.Clone(cur).(*runpb.Service)
	if !req.GetValidateOnly() {
		gone.DeleteTime = timestamppb.New(s.now())
		delete(s.services, n.String())
		delete(s.policies, n.String())
	}
	return s.finished(n, gone)
}
