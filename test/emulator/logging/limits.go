package logging

import (
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Quotas and retention from https://cloud.google.com/logging/quotas.
const (
	// listPerMinute is the entries.list quota per project.
	listPerMinute = 60
	// defaultRetention is the _Default bucket's retention.
	defaultRetention = 30 * 24 * time.Hour
	// requiredRetention is the _Required bucket's, fixed.
	requiredRetention = 400 * 24 * time.Hour
	// maxFuture is how far ahead of now an entry's timestamp may be.
	maxFuture = 24 * time.Hour
)

// requiredLogs are the logs the _Required bucket holds; every other log
// goes to _Default.
var requiredLogs = map[string]bool{
	"cloudaudit.googleapis.com/activity":            true,
	"cloudaudit.googleapis.com/system_event":        true,
	"cloudaudit.googleapis.com/access_transparency": true,
}

// retention is how long the bucket that stores logName keeps entries.
func retention(logName string) time.Duration {
	_, enc, _ := strings.Cut(logName, "/logs/")
	if id, err := url.PathUnescape(enc); err == nil && requiredLogs[id] {
		return requiredRetention
	}
	return defaultRetention
}

// inWindow reports whether the entry's timestamp lies within its
// bucket's retention before now and at most a day after: Logging neither
// ingests nor returns entries outside it.
func inWindow(e *loggingpb.LogEntry, now time.Time) bool {
	ts := e.GetTimestamp().AsTime()
	return !ts.Before(now.Add(-retention(e.GetLogName()))) && !ts.After(now.Add(maxFuture))
}

// chargeListLocked counts one entries.list request against the quota of
// each project named, in a sliding minute on the emulator clock; s.mu is
// held.
func (s *Server) chargeListLocked(parents []parentName, now time.Time) error {
	keys := map[string]bool{}
	for _, p := range parents {
		keys[projectKey(p.String())] = true
	}
	for k := range keys {
		var recent []time.Time
		for _, t := range s.lists[k] {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		s.lists[k] = recent
		if len(recent) >= listPerMinute {
			return status.Errorf(codes.ResourceExhausted, "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'logging.googleapis.com' for consumer '%s': entries.list allows %d requests per minute per project.", k, listPerMinute)
		}
	}
	for k := range keys {
		s.lists[k] = append(s.lists[k], now)
	}
	return nil
}
