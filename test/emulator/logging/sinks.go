package logging

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// legacyWriter is the shared identity a project sink gets without
// unique_writer_identity, per the CreateSinkRequest reference.
const legacyWriter = "serviceAccount:cloud-logs@system.gserviceaccount.com"

// sinkDestinations are the destination services a sink may route to.
var sinkDestinations = []string{"storage.googleapis.com/", "bigquery.googleapis.com/projects/", "pubsub.googleapis.com/projects/", "logging.googleapis.com/projects/"}

// configService is the ConfigServiceV2 face of Server; only sinks are
// implemented.
type configService struct {
	loggingpb.UnimplementedConfigServiceV2Server
	s *Server
}

// writerIdentity is the service agent Cloud Logging writes as for the
// sinks of one parent: service-PROJECT_NUMBER@gcp-sa-logging for a project
// (sinks.create reference, uniqueWriterIdentity), service-org-ID and
// service-folder-ID for an organization and a folder (Config Connector's
// recorded org and folder sinks), service-billing-ID for a billing
// account (assumed by analogy: no recording). A project id becomes its
// emulated project number, the one every fake uses.
func writerIdentity(p parentName) string {
	n := p.ID
	if _, err := strconv.ParseUint(n, 10, 64); err != nil && p.Kind == "projects" {
		n = strconv.FormatInt(resourcemanager.ProjectNumber(n), 10)
	}
	prefix := ""
	switch p.Kind {
	case "organizations":
		prefix = "org-"
	case "folders":
		prefix = "folder-"
	case "billingAccounts":
		prefix = "billing-"
	}
	return "serviceAccount:service-" + prefix + n + "@gcp-sa-logging.iam.gserviceaccount.com"
}

func checkDestination(d string) error {
	for _, p := range sinkDestinations {
		if strings.HasPrefix(d, p) && len(d) > len(p) {
			return nil
		}
	}
	return status.Errorf(codes.InvalidArgument, "Invalid sink destination %q: expected storage.googleapis.com/BUCKET, bigquery.googleapis.com/projects/P/datasets/D, pubsub.googleapis.com/projects/P/topics/T or logging.googleapis.com/projects/P/locations/L/buckets/B.", d)
}

// checkFilters parses the sink's filter and its exclusions' filters: the
// service refuses a sink whose filter it cannot evaluate.
func checkFilters(sink *loggingpb.LogSink) error {
	if _, err := ParseFilter(sink.GetFilter()); err != nil {
		return err
	}
	for _, x := range sink.GetExclusions() {
		if x.GetFilter() == "" {
			return status.Errorf(codes.InvalidArgument, "Exclusion %q of sink %q has no filter.", x.GetName(), sink.GetName())
		}
		if _, err := ParseFilter(x.GetFilter()); err != nil {
			return err
		}
	}
	return nil
}

// CreateSink creates a sink; sink.name is the sink ID.
func (c *configService) CreateSink(_ context.Context, req *loggingpb.CreateSinkRequest) (*loggingpb.LogSink, error) {
	s := c.s
	parent, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	if req.GetSink() == nil {
		return nil, status.Error(codes.InvalidArgument, "sink is required.")
	}
	sink := proto.Clone(req.GetSink()).(*loggingpb.LogSink)
	if !sinkIDRE.MatchString(sink.GetName()) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid sink name %q: up to 100 characters of letters, digits, underscores, hyphens and periods.", sink.GetName())
	}
	if err := checkDestination(sink.GetDestination()); err != nil {
		return nil, err
	}
	if err := checkFilters(sink); err != nil {
		return nil, err
	}
	name := sinkName{parentName: parent, SinkID: sink.GetName()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sinks[name.String()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Sink %s already exists", name.SinkID)
	}
	sink.Name = name.SinkID
	sink.WriterIdentity = legacyWriter
	if req.GetUniqueWriterIdentity() || parent.Kind != "projects" {
		sink.WriterIdentity = writerIdentity(parent)
	}
	now := timestamppb.New(s.now())
	sink.CreateTime, sink.UpdateTime = now, now
	s.sinks[name.String()] = sink
	return proto.Clone(sink).(*loggingpb.LogSink), nil
}

// GetSink returns one sink.
func (c *configService) GetSink(_ context.Context, req *loggingpb.GetSinkRequest) (*loggingpb.LogSink, error) {
	n, err := parseSinkName(req.GetSinkName())
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	sink, ok := c.s.sinks[n.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Sink %s does not exist", n.SinkID)
	}
	return proto.Clone(sink).(*loggingpb.LogSink), nil
}

// ListSinks lists a parent's sinks in name order.
func (c *configService) ListSinks(_ context.Context, req *loggingpb.ListSinksRequest) (*loggingpb.ListSinksResponse, error) {
	parent, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	got, next, err := page(c.s.Sinks(parent.String()), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &loggingpb.ListSinksResponse{Sinks: got, NextPageToken: next}, nil
}

// UpdateSink applies update_mask; an empty mask means
// "destination,filter,include_children", the reference's backward-compatible
// default. unique_writer_identity turns a shared identity into a unique
// one. On a sink that already has a unique identity the request must send
// it true again: the reference calls true-to-false (or defaulted to false)
// an error, and every recorded real update sends it. The error's code is
// not documented; the fake answers INVALID_ARGUMENT. (logadmin.UpdateSink
// sends false: use UpdateSinkOpt with UniqueWriterIdentity.)
func (c *configService) UpdateSink(_ context.Context, req *loggingpb.UpdateSinkRequest) (*loggingpb.LogSink, error) {
	s := c.s
	n, err := parseSinkName(req.GetSinkName())
	if err != nil {
		return nil, err
	}
	in := req.GetSink()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "sink is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.sinks[n.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Sink %s does not exist", n.SinkID)
	}
	if stored.GetWriterIdentity() != legacyWriter && !req.GetUniqueWriterIdentity() {
		return nil, status.Errorf(codes.InvalidArgument, "Sink %s has a unique writer identity (%s): send uniqueWriterIdentity=true with the update; leaving it false would turn the identity back into the shared one, which is not allowed.", n.SinkID, stored.GetWriterIdentity())
	}
	sink := proto.Clone(stored).(*loggingpb.LogSink)
	in = proto.Clone(in).(*loggingpb.LogSink)
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"destination", "filter", "include_children"}
	}
	for _, p := range paths {
		switch p {
		case "destination":
			if err := checkDestination(in.GetDestination()); err != nil {
				return nil, err
			}
			sink.Destination = in.GetDestination()
		case "filter":
			sink.Filter = in.GetFilter()
		case "description":
			sink.Description = in.GetDescription()
		case "disabled":
			sink.Disabled = in.GetDisabled()
		case "exclusions":
			sink.Exclusions = in.GetExclusions()
		case "include_children":
			sink.IncludeChildren = in.GetIncludeChildren()
		case "output_version_format":
			// Deprecated and ignored by the real service: accepted, not stored.
		case "bigquery_options":
			sink.Options = in.GetOptions()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q for a sink.", p)
		}
	}
	if err := checkFilters(sink); err != nil {
		return nil, err
	}
	if req.GetUniqueWriterIdentity() {
		sink.WriterIdentity = writerIdentity(n.parentName)
	}
	sink.UpdateTime = timestamppb.New(s.now())
	s.sinks[n.String()] = sink
	return proto.Clone(sink).(*loggingpb.LogSink), nil
}

// DeleteSink deletes a sink.
func (c *configService) DeleteSink(_ context.Context, req *loggingpb.DeleteSinkRequest) (*emptypb.Empty, error) {
	n, err := parseSinkName(req.GetSinkName())
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if _, ok := c.s.sinks[n.String()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Sink %s does not exist", n.SinkID)
	}
	delete(c.s.sinks, n.String())
	return &emptypb.Empty{}, nil
}

// sinkNamesLocked returns every sink's full name in order; s.mu is held.
func (s *Server) sinkNamesLocked() []string {
	names := make([]string, 0, len(s.sinks))
	for name := range s.sinks {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Sinks returns copies of a parent's sinks (e.g. projects/p) in name order.
func (s *Server) Sinks(parent string) []*loggingpb.LogSink {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := parent + "/sinks/"
	var names []string
	for name := range s.sinks {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make([]*loggingpb.LogSink, 0, len(names))
	for _, name := range names {
		out = append(out, proto.Clone(s.sinks[name]).(*loggingpb.LogSink))
	}
	return out
}
