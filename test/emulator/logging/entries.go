package logging

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// loggingService is the LoggingServiceV2 face of Server.
type loggingService struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	s *Server
}

// WriteLogEntries applies the request's log_name, resource and labels to
// entries that lack them, defaults timestamps and insert ids, and stores the
// entries. With partial_success the valid entries are written even when
// others are refused; either way a refusal returns InvalidArgument carrying
// WriteLogEntriesPartialErrors keyed by entry index, as the service does.
func (l *loggingService) WriteLogEntries(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) (*loggingpb.WriteLogEntriesResponse, error) {
	s := l.s
	if len(req.GetEntries()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "At least one log entry is required.")
	}
	if req.GetLogName() != "" {
		if _, err := parseLogName(req.GetLogName()); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	now := timestamppb.New(s.now())
	var ok []*loggingpb.LogEntry
	failed := map[int32]*spb.Status{}
	for i, in := range req.GetEntries() {
		e := proto.Clone(in).(*loggingpb.LogEntry)
		if e.LogName == "" {
			e.LogName = req.GetLogName()
		}
		if e.Resource == nil {
			e.Resource = proto.Clone(req.GetResource()).(*monitoredres.MonitoredResource)
		}
		if len(req.GetLabels()) > 0 {
			labels := map[string]string{}
			for k, v := range req.GetLabels() {
				labels[k] = v
			}
			for k, v := range e.GetLabels() {
				labels[k] = v
			}
			e.Labels = labels
		}
		err := checkEntry(e)
		if err == nil {
			err = notReserved(e)
		}
		if err != nil {
			failed[int32(i)] = &spb.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
			continue
		}
		ok = append(ok, e)
	}
	if len(failed) > 0 && !req.GetPartialSuccess() {
		s.mu.Unlock()
		return nil, partialError(failed)
	}
	var stored []storedEntry
	if !req.GetDryRun() {
		for _, e := range ok {
			if se, in := s.storeLocked(e, now.AsTime()); in {
				stored = append(stored, se)
			}
		}
	}
	s.mu.Unlock()
	s.route(ctx, stored)
	if len(failed) > 0 {
		return nil, partialError(failed)
	}
	return &loggingpb.WriteLogEntriesResponse{}, nil
}

// storeLocked defaults the entry's timestamps and insert id and stores
// it; s.mu is held. An entry outside its bucket's window is not ingested
// (no error, as the service does): ok is false.
func (s *Server) storeLocked(e *loggingpb.LogEntry, now time.Time) (_ storedEntry, ok bool) {
	if e.Timestamp == nil {
		e.Timestamp = timestamppb.New(now)
	}
	if !inWindow(e, now) {
		return storedEntry{}, false
	}
	e.ReceiveTimestamp = timestamppb.New(now)
	s.seq++
	if e.InsertId == "" {
		e.InsertId = fmt.Sprintf("%08x%08x", now.Unix(), s.seq)
	}
	se := storedEntry{seq: s.seq, entry: e, rendered: &rendering{}}
	s.logs[e.LogName] = append(s.logs[e.LogName], se)
	return se, true
}

// checkEntry validates what must hold after the request defaults applied.
func checkEntry(e *loggingpb.LogEntry) error {
	if e.GetLogName() == "" {
		return status.Error(codes.InvalidArgument, "Log entry has no log_name and the request has no default log_name.")
	}
	if _, err := parseLogName(e.GetLogName()); err != nil {
		return err
	}
	if e.GetResource().GetType() == "" {
		return status.Error(codes.InvalidArgument, "Log entry has no resource and the request has no default resource.")
	}
	return nil
}

// notReserved refuses a caller's entry under a Cloud Audit Logs log id:
// those logs are Google's (an assumption, see FIDELITY.md); only the
// emulated GCP itself writes them, through Append.
func notReserved(e *loggingpb.LogEntry) error {
	n, err := parseLogName(e.GetLogName())
	if err != nil {
		return err
	}
	if id, _ := url.PathUnescape(n.LogID); auditLogIDs[strings.ToLower(id)] {
		return status.Errorf(codes.InvalidArgument, "Log name %q is reserved for Cloud Audit Logs: write to a log of your own.", e.GetLogName())
	}
	return nil
}

// auditLogIDs are the log ids Cloud Audit Logs writes
// (https://cloud.google.com/logging/docs/audit#types).
var auditLogIDs = map[string]bool{
	"cloudaudit.googleapis.com/activity": true, "cloudaudit.googleapis.com/data_access": true,
	"cloudaudit.googleapis.com/system_event": true, "cloudaudit.googleapis.com/policy": true,
	"cloudaudit.googleapis.com/access_transparency": true,
}

// partialError is the InvalidArgument status with per-entry details.
func partialError(failed map[int32]*spb.Status) error {
	var first int32 = -1
	for i := range failed {
		if first < 0 || i < first {
			first = i
		}
	}
	st := status.Newf(codes.InvalidArgument, "Log entry with index %d is invalid: %s", first, failed[first].GetMessage())
	if d, err := st.WithDetails(&loggingpb.WriteLogEntriesPartialErrors{LogEntryErrors: failed}); err == nil {
		st = d
	}
	return st.Err()
}

// ListLogEntries returns the entries of the named parents that match the
// filter, in timestamp order (ascending unless order_by says
// "timestamp desc"), paged 50 by default.
func (l *loggingService) ListLogEntries(ctx context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	if len(req.GetResourceNames()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "resource_names must name at least one project, folder, organization or billing account.")
	}
	var prefixes []string
	var parents []parentName
	for _, r := range req.GetResourceNames() {
		p, err := parseParent(r)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, p.String()+"/logs/")
		parents = append(parents, p)
	}
	s := l.s
	s.mu.Lock()
	now := s.now()
	err := s.chargeListLocked(parents, now)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	desc := false
	switch strings.Join(strings.Fields(req.GetOrderBy()), " ") {
	case "", "timestamp asc", "timestamp":
	case "timestamp desc":
		desc = true
	default:
		return nil, status.Errorf(codes.InvalidArgument, "Unsupported order_by %q: use \"timestamp asc\" or \"timestamp desc\".", req.GetOrderBy())
	}
	q, err := ParseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	private := s.mayReadPrivate(ctx, parents)
	s.mu.Lock()
	var kept []storedEntry
	for name, entries := range s.logs {
		in := false
		for _, p := range prefixes {
			in = in || (strings.HasPrefix(name, p) && (private[p] || !isPrivate(name)))
		}
		if !in {
			continue
		}
		for _, se := range entries {
			if inWindow(se.entry, now) && q.Match(se.doc()) {
				kept = append(kept, se)
			}
		}
	}
	s.mu.Unlock()
	sortEntries(kept)
	if desc {
		for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
			kept[i], kept[j] = kept[j], kept[i]
		}
	}
	got, next, err := page(kept, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &loggingpb.ListLogEntriesResponse{NextPageToken: next}
	for _, se := range got {
		resp.Entries = append(resp.Entries, proto.Clone(se.entry).(*loggingpb.LogEntry))
	}
	return resp, nil
}

// isPrivate reports whether a log is private: Data Access audit logs,
// which only a caller with logging.privateLogEntries.list may read
// (https://cloud.google.com/logging/docs/access-control).
func isPrivate(logName string) bool {
	_, enc, _ := strings.Cut(logName, "/logs/")
	id, err := url.PathUnescape(enc)
	return err == nil && id == "cloudaudit.googleapis.com/data_access"
}

// mayReadPrivate returns, per parent's "P/logs/" prefix, whether the
// caller may read its private logs. Without them entries.list leaves
// their entries out rather than failing (an assumption: the references
// say the permission is needed, not how a query without it answers; the
// silent answer is the one a reader can miss). A call that did not pass
// the emulated IAM (the fake served on its own) reads everything.
func (s *Server) mayReadPrivate(ctx context.Context, parents []parentName) map[string]bool {
	out := map[string]bool{}
	principal, known := iam.PrincipalFrom(ctx)
	s.mu.Lock()
	authorize := s.authorize
	s.mu.Unlock()
	for _, p := range parents {
		out[p.String()+"/logs/"] = !known || authorize == nil || authorize(ctx, iam.Member(principal), "logging.privateLogEntries.list", p.String())
	}
	return out
}

// sortEntries orders by timestamp, then by write order.
func sortEntries(es []storedEntry) {
	sort.Slice(es, func(i, j int) bool {
		if c := es[i].entry.GetTimestamp().AsTime().Compare(es[j].entry.GetTimestamp().AsTime()); c != 0 {
			return c < 0
		}
		return es[i].seq < es[j].seq
	})
}

// DeleteLog deletes all entries of one log.
func (l *loggingService) DeleteLog(_ context.Context, req *loggingpb.DeleteLogRequest) (*emptypb.Empty, error) {
	n, err := parseLogName(req.GetLogName())
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if _, ok := l.s.logs[n.String()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Log %s does not exist.", n)
	}
	delete(l.s.logs, n.String())
	return &emptypb.Empty{}, nil
}

// Entries returns copies of one log's entries (full log name, e.g.
// projects/p/logs/coopguard-incidents) in timestamp order.
func (s *Server) Entries(logName string) []*loggingpb.LogEntry {
	s.mu.Lock()
	es := append([]storedEntry(nil), s.logs[logName]...)
	s.mu.Unlock()
	return cloneSorted(es)
}

// AllEntries returns copies of every stored entry in timestamp order.
func (s *Server) AllEntries() []*loggingpb.LogEntry {
	s.mu.Lock()
	var es []storedEntry
	for _, l := range s.logs {
		es = append(es, l...)
	}
	s.mu.Unlock()
	return cloneSorted(es)
}

func cloneSorted(es []storedEntry) []*loggingpb.LogEntry {
	sortEntries(es)
	out := make([]*loggingpb.LogEntry, 0, len(es))
	for _, se := range es {
		out = append(out, proto.Clone(se.entry).(*loggingpb.LogEntry))
	}
	return out
}
