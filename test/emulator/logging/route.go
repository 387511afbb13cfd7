package logging

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// TimestampAttribute is the message attribute Logging sets on every entry
// it routes to Pub/Sub: the entry's timestamp, RFC 3339.
const TimestampAttribute = "logging.googleapis.com/timestamp"

// publishPermission is what a sink's writer identity needs on the topic.
const publishPermission = "pubsub.topics.publish"

// Publisher publishes one message to a topic (projects/P/topics/T).
type Publisher func(ctx context.Context, topic string, data []byte, attrs map[string]string) error

// Authorizer decides whether principal ("serviceAccount:…") holds
// permission on resource.
type Authorizer func(ctx context.Context, principal, permission, resource string) bool

// SetPublisher sets where sinks with a Pub/Sub destination publish.
// Without one, every routed entry is counted as dropped.
func (s *Server) SetPublisher(p func(ctx context.Context, topic string, data []byte, attrs map[string]string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publish = p
}

// SetAuthorizer sets who decides whether a sink's writer identity may
// publish to its topic. Without one, every writer identity may.
func (s *Server) SetAuthorizer(a func(ctx context.Context, principal, permission, resource string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = a
}

// SinkStats counts what one sink did with the entries it saw.
type SinkStats struct {
	// Routed entries matched the filter and reached the destination.
	Routed int
	// Excluded entries matched the filter and an enabled exclusion.
	Excluded int
	// Dropped entries matched but could not be delivered: the writer
	// identity may not publish, the topic is missing, or no publisher.
	Dropped int
	// LastError says why the last dropped entry was dropped.
	LastError string
}

// Stats returns the counts of a sink by full name
// (projects/P/sinks/ID); zero for a sink that saw nothing.
func (s *Server) Stats(sinkName string) SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats[sinkName]
}

// Append stores entries the emulated GCP writes itself (Cloud Audit Logs)
// and routes them through the sinks, as WriteLogEntries does for callers.
// Each entry needs logName and resource; timestamp, receiveTimestamp and
// insertId default as on write. Invalid entries, and entries outside
// their bucket's retention window, are skipped.
func (s *Server) Append(ctx context.Context, entries ...*loggingpb.LogEntry) {
	s.mu.Lock()
	now := s.now()
	var stored []storedEntry
	for _, in := range entries {
		e := proto.Clone(in).(*loggingpb.LogEntry)
		if checkEntry(e) != nil {
			continue
		}
		if se, ok := s.storeLocked(e, now); ok {
			stored = append(stored, se)
		}
	}
	s.mu.Unlock()
	s.route(ctx, stored)
}

// delivery is one message a sink sends.
type delivery struct {
	sink, writer, topic string
	data                []byte
	attrs               map[string]string
}

// route sends each entry through every enabled sink of its project whose
// filter matches and no enabled exclusion matches, to the sink's Pub/Sub
// topic, if the writer identity may publish there. Filters are
// evaluated under the lock; publishing happens outside it, since the
// publisher may call back into the emulated project.
func (s *Server) route(ctx context.Context, entries []storedEntry) {
	if len(entries) == 0 {
		return
	}
	s.mu.Lock()
	var out []delivery
	for _, se := range entries {
		parent := projectKey(se.entry.GetLogName())
		for _, name := range s.sinkNamesLocked() {
			sink := s.sinks[name]
			if sink.GetDisabled() || projectKey(name) != parent {
				continue
			}
			f, err := s.filterLocked(sink.GetFilter())
			if err != nil || !f.Match(se.doc()) {
				continue
			}
			st := s.stats[name]
			if s.excludedLocked(sink, se.doc()) {
				st.Excluded++
				s.stats[name] = st
				continue
			}
			topic, ok := strings.CutPrefix(sink.GetDestination(), "pubsub.googleapis.com/")
			if !ok {
				continue // other destinations are not modelled
			}
			out = append(out, delivery{sink: name, writer: sink.GetWriterIdentity(), topic: topic, data: entryJSON(se.entry),
				attrs: map[string]string{TimestampAttribute: se.entry.GetTimestamp().AsTime().UTC().Format(time.RFC3339Nano)}})
		}
	}
	publish, authorize := s.publish, s.authorize
	s.mu.Unlock()

	for _, d := range out {
		var err error
		switch {
		case authorize != nil && !authorize(ctx, d.writer, publishPermission, d.topic):
			err = fmt.Errorf("writer identity %s lacks %s on %s", d.writer, publishPermission, d.topic)
		case publish == nil:
			err = fmt.Errorf("no publisher for %s", d.topic)
		default:
			err = publish(ctx, d.topic, d.data, d.attrs)
		}
		s.mu.Lock()
		st := s.stats[d.sink]
		if err != nil {
			st.Dropped++
			st.LastError = err.Error()
		} else {
			st.Routed++
		}
		s.stats[d.sink] = st
		s.mu.Unlock()
	}
}

// excludedLocked reports whether an enabled exclusion of the sink matches.
func (s *Server) excludedLocked(sink *loggingpb.LogSink, d doc) bool {
	for _, x := range sink.GetExclusions() {
		if x.GetDisabled() {
			continue
		}
		if f, err := s.filterLocked(x.GetFilter()); err == nil && f.Match(d) {
			return true
		}
	}
	return false
}

// filterLocked is ParseFilter(q), parsed once per filter text (a parsed
// Filter is only read).
func (s *Server) filterLocked(q string) (Filter, error) {
	if f, ok := s.filters[q]; ok {
		return f, nil
	}
	f, err := ParseFilter(q)
	if err == nil {
		s.filters[q] = f
	}
	return f, err
}

// projectKey names the project of a log or sink name by number, so a
// sink created under the project id sees entries logged under its
// number and the reverse. Other parents keep their name.
func projectKey(name string) string {
	parts := strings.SplitN(name, "/", 3)
	if len(parts) < 2 {
		return name
	}
	if parts[0] != "projects" {
		return parts[0] + "/" + parts[1]
	}
	if _, err := strconv.ParseUint(parts[1], 10, 64); err == nil {
		return "projects/" + parts[1]
	}
	return "projects/" + strconv.FormatInt(resourcemanager.ProjectNumber(parts[1]), 10)
}
