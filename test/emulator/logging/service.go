// Package logging is an in-process fake of Cloud Logging (google.logging.v2):
// LoggingServiceV2 (write, list and delete log entries) and the sink part of
// ConfigServiceV2, served to the official clients — the generated apiv2
// clients as well as the high-level logging and logadmin packages — over a
// real gRPC connection, for tests and for the embedded emulated GCP of
// `coopguard serve`.
//
// It follows the public references (test/emulator/FIDELITY.md): request
// defaults and partial_success on write; one evaluator of the Logging query
// language for entries.list, sink filters and exclusions; sink routing of
// every written or appended entry to Pub/Sub under the writer identity;
// the entries.list quota and bucket retention on the emulator clock;
// timestamp ordering, paging and update masks. Latency and faults are not
// its job: the shared grpc.Server carries the faults interceptor.
package logging

import (
	"sync"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc"
)

// Server holds the state of both fake services. Create it with New; it is
// safe for concurrent use.
type Server struct {
	now func() time.Time

	mu sync.Mutex
	// logs is keyed by full log name, projects/P/logs/ID, each in write order.
	logs map[string][]storedEntry
	// sinks is keyed by full sink name, projects/P/sinks/ID.
	sinks map[string]*loggingpb.LogSink
	// seq orders entries written at the same timestamp and makes insert ids.
	seq int64
	// publish and authorize are the hooks sink routing uses; stats counts
	// per sink what routing did.
	publish   Publisher
	authorize Authorizer
	stats     map[string]SinkStats
	// lists holds, per project (projectKey), the times of its entries.list
	// requests in the last minute.
	lists map[string][]time.Time
	// filters caches the parsed sink and exclusion filters routing
	// evaluates for every entry written (parsing compiles their regular
	// expressions), by filter text.
	filters map[string]Filter
}

// storedEntry remembers the write order, the tie-break for equal timestamps.
type storedEntry struct {
	seq   int64
	entry *loggingpb.LogEntry
	// rendered is the entry as the query language sees it, rendered once
	// when first needed (doc).
	rendered *rendering
}

// doc returns the entry as the query language sees it.
func (se storedEntry) doc() doc { return se.rendered.doc(se.entry) }

// New returns an empty Server. now is the clock for defaulted timestamps,
// receive timestamps and sink times; nil means time.Now.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, logs: map[string][]storedEntry{}, sinks: map[string]*loggingpb.LogSink{}, stats: map[string]SinkStats{}, lists: map[string][]time.Time{}, filters: map[string]Filter{}}
}

// Register registers LoggingServiceV2 and ConfigServiceV2 on g. Each gets
// its own small type because the generated Unimplemented structs cannot
// both be embedded in one.
func (s *Server) Register(g *grpc.Server) {
	loggingpb.RegisterLoggingServiceV2Server(g, &loggingService{s: s})
	loggingpb.RegisterConfigServiceV2Server(g, &configService{s: s})
}
