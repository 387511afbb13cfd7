package compute

import "time"

// Profile says how long the operation of each mutating method takes on
// the emulator's clock, from the request until the operation is DONE.
// While it runs, the resource shows the intermediate status GCP shows
// (an instance STOPPING or STAGING, a snapshot CREATING).
type Profile struct {
	// Default is the duration of methods Methods does not name.
	Default time.Duration
	// Methods maps an API method ("compute.instances.stop") to its duration.
	Methods map[string]time.Duration
}

// duration is how long an operation of method takes.
func (p Profile) duration(method string) time.Duration {
	if d, ok := p.Methods[method]; ok {
		return d
	}
	return p.Default
}

// Compressed is the profile of tests: every operation is DONE the first
// time anyone looks after the request (its intermediate status is still
// visible in the mutation's own answer), so suites run at full speed.
var Compressed = Profile{}

// GCPLike is the profile of `coopguard serve`: the figures GCP documents
// or typically shows. A stop lets the guest shut down gracefully for up
// to 90 s before the VM is TERMINATED; a start stages the VM; a snapshot
// of a persistent disk is CREATING for minutes; simpler mutations take a
// few seconds.
func GCPLike() Profile {
	return Profile{
		Default: 2 * time.Second,
		Methods: map[string]time.Duration{
			"compute.instances.stop":       90 * time.Second,
			"compute.instances.start":      20 * time.Second,
			"compute.disks.createSnapshot": 3 * time.Minute,
		},
	}
}

// waitDeadline bounds one zoneOperations.wait (and its regional and
// global twins): GCP returns the operation, DONE or not, after about two
// minutes.
const waitDeadline = 2 * time.Minute

// SetClock makes the fake read time from now (the emulator's clock), so
// operations progress when a test moves that clock.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetProfile sets how long operations take from now on.
func (s *Server) SetProfile(p Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profile = p
}

// AdvanceOnWait makes a wait on an operation that is not DONE (an
// operations.wait, or an operations.get, which is how the Go client
// library's Operation.Wait polls) move the emulator's clock to the
// operation's end (advance is the clock's
// AdvanceTo; nil turns it off). This is virtual time for tests on GCP's
// operation times: what someone waits for takes its GCP time on the
// emulated clock and none on the real one, while what nobody waits for (a
// VM stopping after coopguard answered) stays where it is until the test
// moves the clock.
func (s *Server) AdvanceOnWait(advance func(to time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance = advance
}

// NextDeadline returns when the earliest running operation will be DONE,
// so a driver of a frozen clock can move it there; false when none runs.
// With waitedOnly, only operations someone has polled or waited on count:
// a driver that moves the clock for what the code under test waits for,
// and not for what it left running (a VM stopping after an answer).
func (s *Server) NextDeadline(waitedOnly bool) (time.Time, bool) {
	s.lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, p := range s.pending {
		if waitedOnly && !p.waited {
			continue
		}
		if next.IsZero() || p.at.Before(next) {
			next = p.at
		}
	}
	return next, !next.IsZero()
}
