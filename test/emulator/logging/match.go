package logging

import "cloud.google.com/go/logging/apiv2/loggingpb"

// MatchEntry reports whether e matches the query, exactly as a sink or
// entries.list of the emulated Logging decides it.
func (f Filter) MatchEntry(e *loggingpb.LogEntry) bool { return f.Match(entryDoc(e)) }
