// Package store is coopguard's system of record: one Firestore (Native
// mode) document per incident, written only by coopguard's own service
// accounts. The document is the claim (a lease that expires, so one
// instance responds at a time and a dead one's work is taken over), the
// progress (each action's outcome, committed as it finishes, so a
// redelivery resumes exactly what is not done) and the reports.
//
// Lifecycle of an incident document (field state):
//
//	claimed → acting → contained | notified | dry-run | incomplete | refused
//	incomplete → claimed (a redelivery resumes it)
//	contained → complete | incomplete (the follow-up ends; field followUp)
//	contained | complete | incomplete → resolved (coopguard resolve)
//
// The follow-up (waiting for TERMINATED, the snapshot, the evidence) runs
// after the event is answered: field followUp is "running" until it ends
// ("done"), and the scheduled FinishIncidents finds the running ones.
//
// Rule for a repeated or new delivery of an incident id that is already
// finished (contained, notified, dry-run, refused or resolved): nothing is
// done again and the stored report is returned. An incident id is answered
// once; Cloud Monitoring opens a new incident (a new id) when a condition
// fires again, and Pub/Sub may redeliver an old message for days, so acting
// again on an old id would undo an operator's resolve or hand-restart.
package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// DefaultDatabase is the Firestore database deploy creates for coopguard:
// a named one, so a project's (default) database, possibly in Datastore
// mode, is left alone.
const DefaultDatabase = "coopguard"

// Collections.
const (
	// Incidents holds one document per incident.
	Incidents = "incidents"
	// Instances holds one lease document per VM: one response at a time
	// acts on an instance, across every function instance.
	Instances = "instances"
	// Sandboxes holds, per sandbox VM (by name and by numeric id), the
	// incident that later events about it are appended to (see Append).
	Sandboxes = "sandboxes"
)

// States of an incident document besides the report outcomes
// (incident.Outcome*), which are its final states.
const (
	StateClaimed = "claimed" // a responder holds the lease and is vetting the target
	StateActing  = "acting"  // actions are running; their outcomes are being committed
)

// DefaultLease is how long a claim lasts without a commit renewing it. It
// is longer than any one action (a VM stop, a snapshot) takes.
const DefaultLease = 5 * time.Minute

// FollowUpLimit bounds a follow-up: what is still pending this long after
// containment held is reported failed and the incident ends incomplete
// (a GCP stop ends within 90 s, a snapshot within minutes).
const FollowUpLimit = 30 * time.Minute

// maxHistory bounds the reports kept in one document (Firestore documents
// are at most 1 MiB).
const maxHistory = 20

// Errors.
var (
	// ErrNotFound: no document for the incident id.
	ErrNotFound = errors.New("no such coopguard incident")
	// ErrLeaseLost: another responder holds the incident's lease now (ours
	// expired). What was committed is kept; the caller stops acting.
	ErrLeaseLost = errors.New("the incident's lease is held by another responder")
	// ErrBusy: the incident or instance is leased by someone else.
	ErrBusy = errors.New("leased by another responder")
)

// Record is an incident's document.
type Record struct {
	// ID is the incident id (the document id is its label value, which
	// Firestore accepts whatever the id contains).
	ID       string            `firestore:"id"`
	Incident incident.Incident `firestore:"incident"`
	// State is claimed, acting, or the final report's outcome.
	State string `firestore:"state"`
	// Instance is the VM acted on, once vetted.
	Instance string `firestore:"instance"`
	// Owner holds the lease until LeaseUntil; empty when nobody does.
	Owner      string    `firestore:"owner"`
	LeaseUntil time.Time `firestore:"leaseUntil"`
	// Claims counts the responses that took the incident (1 unless one
	// was taken over or resumed).
	Claims int `firestore:"claims"`
	// ReceivedAt is when the first delivery arrived.
	ReceivedAt time.Time `firestore:"receivedAt"`
	// Actions are the committed outcomes, by action name, each with
	// exactly what it changed.
	Actions map[string]incident.ActionResult `firestore:"actions"`
	// Report is the latest report; History every report, oldest first.
	Report  *incident.Report  `firestore:"report"`
	History []incident.Report `firestore:"history"`
	// UpdatedAt orders the incidents for Status and the CLI.
	UpdatedAt time.Time `firestore:"updatedAt"`
	// FollowUp mirrors the report's follow-up state (running, done) so
	// the follow-up can query the running ones; FollowUpUntil is when it
	// gives up.
	FollowUp      string    `firestore:"followUp"`
	FollowUpUntil time.Time `firestore:"followUpUntil"`
	// Appended counts the later events appended to the incident while it
	// was open (see Append). Only Append writes it.
	Appended *incident.Appended `firestore:"appended"`
}

// Open reports whether the incident is not closed: claimed, acting,
// contained, complete or incomplete (not resolved, refused, notified or a
// dry run).
func (r *Record) Open() bool {
	switch r.State {
	case StateClaimed, StateActing, incident.OutcomeContained, incident.OutcomeComplete, incident.OutcomeIncomplete:
		return true
	}
	return false
}

// Finished reports whether the incident reached a final state other than
// incomplete (which a redelivery resumes).
func (r *Record) Finished() bool {
	if r.FollowUp == incident.FollowUpDone {
		// An incident whose follow-up ended is final, whatever it found.
		return true
	}
	switch r.State {
	case StateClaimed, StateActing, incident.OutcomeIncomplete, "":
		return false
	}
	return true
}

// leased reports whether someone other than owner holds a live lease.
func (r *Record) leased(owner string, now time.Time) bool {
	return r.Owner != "" && r.Owner != owner && now.Before(r.LeaseUntil)
}

// Options tune a Store.
type Options struct {
	// Database is the Firestore database id (default DefaultDatabase).
	Database string
	// Now is the clock leases are measured with (default time.Now).
	Now func() time.Time
	// Lease is the claim's length (default DefaultLease).
	Lease time.Duration
	// Client are extra client options (credentials, endpoint).
	Client []option.ClientOption
	// EmulatorHost is the host:port of a Firestore emulator to use
	// instead of the one FIRESTORE_EMULATOR_HOST names (the official
	// client reads that variable; a process serving several emulated
	// projects cannot share one variable).
	EmulatorHost string
}

// Store reads and writes coopguard's incident documents.
type Store struct {
	project string
	fs      *firestore.Client
	now     func() time.Time
	lease   time.Duration
	onClose []func()
}

// Open connects to the project's Firestore database through the official
// client (which honours FIRESTORE_EMULATOR_HOST).
func Open(ctx context.Context, project string, o Options) (*Store, error) {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.EmulatorHost != "" {
		// What the client does for FIRESTORE_EMULATOR_HOST: plain gRPC,
		// and the emulator's all-powerful bearer token "owner".
		conn, err := grpc.NewClient(o.EmulatorHost, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(emulatorOwner{}))
		if err != nil {
			return nil, fmt.Errorf("dial the Firestore emulator at %s: %w", o.EmulatorHost, err)
		}
		o.Client = append(o.Client, option.WithGRPCConn(conn))
	}
	fs, err := firestore.NewClientWithDatabase(ctx, project, o.Database, o.Client...)
	if err != nil {
		return nil, fmt.Errorf("open Firestore database %s of project %s: %w", o.Database, project, err)
	}
	return &Store{project: project, fs: fs, now: o.Now, lease: o.Lease}, nil
}

// emulatorOwner authenticates to the Firestore emulator as its owner.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

// Close releases the client, then runs the OnClose functions.
func (s *Store) Close() error {
	err := s.fs.Close()
	for _, f := range s.onClose {
		f()
	}
	return err
}

// OnClose adds f to what Close runs (e.g. stopping an emulator) and
// returns s.
func (s *Store) OnClose(f func()) *Store {
	s.onClose = append(s.onClose, f)
	return s
}

// Project is the project whose database the store uses.
func (s *Store) Project() string { return s.project }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

func (s *Store) doc(id string) *firestore.DocumentRef {
	return s.fs.Collection(Incidents).Doc(incident.Incident{ID: id}.LabelValue())
}

// get reads an incident's document and the time it was last written.
func (s *Store) get(ctx context.Context, id string) (*Record, time.Time, error) {
	snap, err := s.doc(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, time.Time{}, fmt.Errorf("incident %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read incident %s: %w", id, err)
	}
	var rec Record
	if err := snap.DataTo(&rec); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode incident %s: %w", id, err)
	}
	if rec.ID != id {
		return nil, time.Time{}, fmt.Errorf("incident %q: %w (document %s belongs to %q)", id, ErrNotFound, snap.Ref.ID, rec.ID)
	}
	return &rec, snap.UpdateTime, nil
}

// modify is an optimistic read-modify-write: change sees the document (nil
// when there is none) and edits it or returns an error to stop; the write
// is conditional on the document being unchanged since the read (created
// only if still absent, else updated only if its update time is the one
// read), and is retried from the read when another writer came first.
// Preconditions, unlike read-write transactions, hold no locks, so a burst
// of deliveries does not queue on one document.
func (s *Store) modify(ctx context.Context, id string, change func(rec *Record) (*Record, error)) (*Record, error) {
	delay := 5 * time.Millisecond
	for {
		rec, updated, err := s.get(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		next, err := change(rec)
		if err != nil || next == nil {
			return rec, err
		}
		next.UpdatedAt = s.now()
		if rec == nil {
			_, err = s.doc(id).Create(ctx, next)
		} else {
			_, err = s.doc(id).Update(ctx, fields(next), firestore.LastUpdateTime(updated))
		}
		switch status.Code(err) {
		case codes.OK:
			return next, nil
		case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		default:
			return nil, fmt.Errorf("write incident %s: %w", id, err)
		}
		t := time.NewTimer(delay + time.Duration(rand.Int64N(int64(delay))))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("write incident %s: %w", id, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// fields lists every field of rec as a document update.
func fields(rec *Record) []firestore.Update {
	return []firestore.Update{
		{Path: "id", Value: rec.ID},
		{Path: "incident", Value: rec.Incident},
		{Path: "state", Value: rec.State},
		{Path: "instance", Value: rec.Instance},
		{Path: "owner", Value: rec.Owner},
		{Path: "leaseUntil", Value: rec.LeaseUntil},
		{Path: "claims", Value: rec.Claims},
		{Path: "receivedAt", Value: rec.ReceivedAt},
		{Path: "actions", Value: rec.Actions},
		{Path: "report", Value: rec.Report},
		{Path: "history", Value: rec.History},
		{Path: "updatedAt", Value: rec.UpdatedAt},
		{Path: "followUp", Value: rec.FollowUp},
		{Path: "followUpUntil", Value: rec.FollowUpUntil},
		{Path: "appended", Value: rec.Appended},
	}
}

// Get returns an incident's document.
func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	rec, _, err := s.get(ctx, id)
	return rec, err
}

// Claim is the answer to a delivery.
type Claim struct {
	// Record is the document after the claim.
	Record *Record
	// Taken: this responder now holds the lease and should act, skipping
	// the actions Record.Actions shows done. Otherwise, Record.Finished()
	// means return its report; else another responder holds it (ErrBusy).
	Taken bool
}

// Claim takes the incident for owner in a transaction: a new incident, an
// incomplete one, or one whose holder's lease expired (it died) is taken;
// a finished one is returned as it is; one leased by another responder
// returns ErrBusy with the record.
func (s *Store) Claim(ctx context.Context, inc incident.Incident, owner string, received time.Time) (Claim, error) {
	// A first delivery (the usual case, and the one a containment waits
	// on) creates the document in one write, without reading first.
	fresh := s.claimed(&Record{ID: inc.ID, Incident: inc, ReceivedAt: received}, owner)
	_, err := s.doc(inc.ID).Create(ctx, fresh)
	switch status.Code(err) {
	case codes.OK:
		return Claim{Record: fresh, Taken: true}, nil
	case codes.AlreadyExists:
	default:
		return Claim{}, fmt.Errorf("claim incident %s: %w", inc.ID, err)
	}
	out := Claim{}
	rec, err := s.modify(ctx, inc.ID, func(rec *Record) (*Record, error) {
		if rec == nil {
			rec = &Record{ID: inc.ID, Incident: inc, ReceivedAt: received}
		} else if rec.Finished() {
			return nil, nil
		} else if rec.leased(owner, s.now()) {
			return nil, ErrBusy
		}
		return s.claimed(rec, owner), nil
	})
	out.Record = rec
	if errors.Is(err, ErrBusy) {
		return out, fmt.Errorf("incident %s: %w", inc.ID, ErrBusy)
	}
	if err != nil {
		return Claim{}, fmt.Errorf("claim incident %s: %w", inc.ID, err)
	}
	out.Taken = rec.Owner == owner && !rec.Finished()
	return out, nil
}

// claimed is rec taken by owner: a fresh lease, one more claim.
func (s *Store) claimed(rec *Record, owner string) *Record {
	now := s.now()
	next := *rec
	next.State, next.Owner, next.LeaseUntil = StateClaimed, owner, now.Add(s.lease)
	next.Claims++
	if next.Actions == nil {
		next.Actions = map[string]incident.ActionResult{}
	}
	next.UpdatedAt = now
	return &next
}

// Acting records that owner vetted the target instance and starts acting,
// renewing the lease.
func (s *Store) Acting(ctx context.Context, id, owner, instance string) error {
	return s.update(ctx, id, owner, func(rec *Record) {
		rec.State, rec.Instance = StateActing, instance
	})
}

// CommitAction merges actions' outcomes into the document as soon as they
// finish (several at once when they finished together: one write), and
// renews owner's lease. The outcomes are facts about GCP, so they are kept
// even when owner lost the lease (ErrLeaseLost is returned then, and the
// caller stops). Merging keeps every change once: the changed resources
// are the union of both outcomes, and a success is not overwritten by a
// later failure or "already".
func (s *Store) CommitAction(ctx context.Context, id, owner string, results ...incident.ActionResult) error {
	names := make([]string, len(results))
	for i, res := range results {
		names[i] = res.Action
	}
	what := strings.Join(names, ", ")
	lost := false
	_, err := s.modify(ctx, id, func(rec *Record) (*Record, error) {
		if rec == nil {
			return nil, fmt.Errorf("incident %q: %w", id, ErrNotFound)
		}
		next := *rec
		next.Actions = maps.Clone(rec.Actions)
		if next.Actions == nil {
			next.Actions = map[string]incident.ActionResult{}
		}
		for _, res := range results {
			next.Actions[res.Action] = MergeResult(next.Actions[res.Action], res)
		}
		lost = rec.Owner != owner
		if !lost {
			next.LeaseUntil = s.now().Add(s.lease)
		}
		return &next, nil
	})
	if err != nil {
		return fmt.Errorf("commit %s of incident %s: %w", what, id, err)
	}
	if lost {
		return fmt.Errorf("commit %s of incident %s: %w", what, id, ErrLeaseLost)
	}
	return nil
}

// rank orders results: a later outcome replaces an earlier one only if it
// ranks at least as high.
func rank(result string) int {
	switch result {
	case incident.ResultDone:
		return 5
	case incident.ResultAlready:
		return 4
	case incident.ResultDryRun:
		return 3
	case incident.ResultSkipped:
		return 2
	case incident.ResultFailed:
		return 1
	}
	return 0 // pending: anything later replaces it
}

// MergeResult combines two outcomes of one action: the higher-ranked one
// (done > already > dry-run > skipped > failed; the newer on a tie), with
// the union of what both changed.
func MergeResult(old, res incident.ActionResult) incident.ActionResult {
	if old.Action == "" {
		return res
	}
	out := res
	if rank(old.Result) > rank(res.Result) {
		out = old
	}
	changed := slices.Clone(old.Changed)
	for _, c := range res.Changed {
		if !slices.Contains(changed, c) {
			changed = append(changed, c)
		}
	}
	out.Changed = changed
	if len(out.Changed) > 0 && out.Result == incident.ResultAlready {
		// An earlier attempt changed something before it died: that is
		// what this incident did.
		out.Result = incident.ResultDone
	}
	return out
}

// Finish records owner's final report: the state becomes its outcome, the
// report joins the history, and the lease is released. A report from a
// responder that lost the lease is refused (ErrLeaseLost): the holder
// writes the report.
func (s *Store) Finish(ctx context.Context, id, owner string, rep *incident.Report) error {
	return s.update(ctx, id, owner, func(rec *Record) {
		s.addReport(rec, rep)
		rec.Owner, rec.LeaseUntil = "", time.Time{}
	})
}

func (s *Store) addReport(rec *Record, rep *incident.Report) {
	s.setReport(rec, rep)
	rec.History = append(rec.History, *rec.Report)
	if len(rec.History) > maxHistory {
		rec.History = rec.History[len(rec.History)-maxHistory:]
	}
}

// setReport makes rep the record's latest report and state, and starts
// the follow-up's clock when rep starts a follow-up.
func (s *Store) setReport(rec *Record, rep *incident.Report) {
	rec.State = rep.Outcome
	if rep.Instance != "" {
		rec.Instance = rep.Instance
	}
	r := *rep
	rec.Report = &r
	rec.FollowUp = rep.FollowUp
	if rep.FollowUp == incident.FollowUpRunning && rec.FollowUpUntil.IsZero() {
		rec.FollowUpUntil = s.now().Add(FollowUpLimit)
	}
}

// Progress records owner's report of a follow-up still running (what is
// done, what is pending) without adding it to the history, and releases
// the lease.
func (s *Store) Progress(ctx context.Context, id, owner string, rep *incident.Report) error {
	return s.update(ctx, id, owner, func(rec *Record) {
		s.setReport(rec, rep)
		rec.Owner, rec.LeaseUntil = "", time.Time{}
	})
}

// FollowUps returns up to limit incidents whose follow-up is running.
func (s *Store) FollowUps(ctx context.Context, limit int) ([]*Record, error) {
	out, err := records(s.fs.Collection(Incidents).Where("followUp", "==", incident.FollowUpRunning).Limit(limit).Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("list running follow-ups: %w", err)
	}
	return out, nil
}

// update applies change to the document in a transaction if owner holds
// its lease, and renews the lease.
func (s *Store) update(ctx context.Context, id, owner string, change func(*Record)) error {
	_, err := s.modify(ctx, id, func(rec *Record) (*Record, error) {
		if rec == nil {
			return nil, fmt.Errorf("incident %q: %w", id, ErrNotFound)
		}
		if rec.Owner != owner {
			return nil, ErrLeaseLost
		}
		next := *rec
		next.LeaseUntil = s.now().Add(s.lease)
		change(&next)
		return &next, nil
	})
	if err != nil {
		return fmt.Errorf("update incident %s: %w", id, err)
	}
	return nil
}

// Lock takes the lease of a finished or incomplete incident for owner
// (resolve), so no responder or other resolve acts on it meanwhile.
// Release with Finish (a new report) or Unlock.
func (s *Store) Lock(ctx context.Context, id, owner string) (*Record, error) {
	rec, err := s.modify(ctx, id, func(rec *Record) (*Record, error) {
		if rec == nil {
			return nil, fmt.Errorf("incident %q: %w", id, ErrNotFound)
		}
		now := s.now()
		if rec.leased(owner, now) {
			return nil, ErrBusy
		}
		next := *rec
		next.Owner, next.LeaseUntil = owner, now.Add(s.lease)
		return &next, nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock incident %s: %w", id, err)
	}
	return rec, nil
}

// Unlock releases owner's lease without a new report.
func (s *Store) Unlock(ctx context.Context, id, owner string) error {
	return s.update(ctx, id, owner, func(rec *Record) { rec.Owner, rec.LeaseUntil = "", time.Time{} })
}

// Wait polls the incident until it is finished or incomplete with no live
// lease, and returns it; it gives up when ctx ends. A response in another
// instance is waited for this way rather than run twice.
func (s *Store) Wait(ctx context.Context, id string) (*Record, error) {
	delay := 50 * time.Millisecond
	for {
		rec, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if rec.Finished() || !rec.leased("", s.now()) {
			return rec, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return rec, fmt.Errorf("wait for incident %s (held by another responder): %w", id, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, time.Second)
	}
}

// List returns up to limit incidents, most recently updated first,
// without their History: what they show (View) is the latest report, and
// a document keeps up to 20 reports, so Status does not read them all.
func (s *Store) List(ctx context.Context, limit int) ([]*Record, error) {
	var paths []string
	for _, u := range fields(&Record{}) {
		if u.Path != "history" {
			paths = append(paths, u.Path)
		}
	}
	out, err := records(s.fs.Collection(Incidents).Select(paths...).OrderBy("updatedAt", firestore.Desc).Limit(limit).Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// OnInstance returns the incidents recorded against a VM.
func (s *Store) OnInstance(ctx context.Context, instance string) ([]*Record, error) {
	out, err := records(s.fs.Collection(Incidents).Where("instance", "==", instance).Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("list incidents on %s: %w", instance, err)
	}
	return out, nil
}

// records decodes every incident document a query returns.
func records(it *firestore.DocumentIterator) ([]*Record, error) {
	defer it.Stop()
	var out []*Record
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var rec Record
		if err := snap.DataTo(&rec); err != nil {
			return nil, fmt.Errorf("decode incident document %s: %w", snap.Ref.ID, err)
		}
		out = append(out, &rec)
	}
}

// instanceLease is an Instances document.
type instanceLease struct {
	Owner      string    `firestore:"owner"`
	Incident   string    `firestore:"incident"`
	LeaseUntil time.Time `firestore:"leaseUntil"`
}

// LockInstance waits until owner holds the VM's lease (one response acts
// on a VM at a time, so two incidents do not race each other's
// fingerprints) and returns the function that releases it, and whether it
// had to wait for another holder. It gives up when ctx ends.
func (s *Store) LockInstance(ctx context.Context, instance, owner, incidentID string) (release func(context.Context), waited bool, err error) {
	ref := s.fs.Collection(Instances).Doc(instance)
	delay := 20 * time.Millisecond
	for {
		var l instanceLease
		snap, err := ref.Get(ctx)
		exists := err == nil
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return nil, waited, fmt.Errorf("lock instance %s: %w", instance, err)
		default:
			if err := snap.DataTo(&l); err != nil {
				return nil, waited, fmt.Errorf("lock instance %s: %w", instance, err)
			}
		}
		now := s.now()
		if l.Owner == "" || l.Owner == owner || !now.Before(l.LeaseUntil) {
			mine := instanceLease{Owner: owner, Incident: incidentID, LeaseUntil: now.Add(s.lease)}
			if exists {
				_, err = ref.Update(ctx, []firestore.Update{{Path: "owner", Value: mine.Owner}, {Path: "incident", Value: mine.Incident}, {Path: "leaseUntil", Value: mine.LeaseUntil}},
					firestore.LastUpdateTime(snap.UpdateTime))
			} else {
				_, err = ref.Create(ctx, mine)
			}
			switch status.Code(err) {
			case codes.OK:
				return func(ctx context.Context) { s.unlockInstance(ctx, ref, owner) }, waited, nil
			case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
			default:
				return nil, waited, fmt.Errorf("lock instance %s: %w", instance, err)
			}
		}
		t := time.NewTimer(delay + time.Duration(rand.Int64N(int64(delay))))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, waited, fmt.Errorf("lock instance %s (another incident is acting on it): %w", instance, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// unlockInstance deletes the VM's lease if owner still holds it.
func (s *Store) unlockInstance(ctx context.Context, ref *firestore.DocumentRef, owner string) {
	snap, err := ref.Get(ctx)
	if err != nil {
		return
	}
	var l instanceLease
	if snap.DataTo(&l) != nil || l.Owner != owner {
		return
	}
	_, _ = ref.Delete(ctx, firestore.LastUpdateTime(snap.UpdateTime))
}

// View is the incident as Status, the CLI and a waiting delivery see it:
// the latest report, or, while a response runs, the committed actions so
// far under the current state.
func (r *Record) View() incident.Report {
	var rep incident.Report
	if r.Report != nil {
		rep = *r.Report
	} else {
		rep = incident.Report{Incident: r.Incident, ReceivedAt: r.ReceivedAt}
	}
	if rep.Instance == "" {
		rep.Instance = r.Instance
	}
	if r.Report == nil || !r.Finished() {
		rep.Outcome = r.State
		rep.Actions = make([]incident.ActionResult, 0, len(r.Actions))
		for _, a := range r.Actions {
			rep.Actions = append(rep.Actions, a)
		}
		slices.SortFunc(rep.Actions, func(a, b incident.ActionResult) int { return a.Start.Compare(b.Start) })
	}
	if rep.Actions == nil {
		rep.Actions = []incident.ActionResult{}
	}
	rep.Appended = r.Appended
	return rep
}
