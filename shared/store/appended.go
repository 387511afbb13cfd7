package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// openMark is a Sandboxes document: the incident later events about the
// sandbox go to.
type openMark struct {
	Incident string `firestore:"incident"`
	// Account is the sandbox's service account, as its VM names it: the
	// principal whose later calls the incident takes.
	Account   string    `firestore:"account"`
	UpdatedAt time.Time `firestore:"updatedAt"`
}

// MarkOpen makes incident id the one that later events about the sandbox
// VM (named name, numeric id instanceID, running as account) are appended
// to, under both keys, in one commit: a log entry names the configured
// sandbox by name, another by id. The incident's own state says whether
// it is still open (Append reads it), so resolving it needs no change
// here.
func (s *Store) MarkOpen(ctx context.Context, name, instanceID, id, account string) error {
	m := openMark{Incident: id, Account: account, UpdatedAt: s.now()}
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		for _, key := range []string{name, instanceID} {
			if key == "" {
				continue
			}
			if err := tx.Set(s.fs.Collection(Sandboxes).Doc(key), m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark incident %s open on %s: %w", id, name, err)
	}
	return nil
}

// Append appends events to the open incident of the sandbox key (its
// VM's name or numeric id, as MarkOpen recorded it), in one transaction:
// take sees that incident, when it is open (Record.Open), and the
// sandbox's account, and returns what of the events it takes (nil or
// none: it takes nothing). Append
// returns the incident's record after the append, or nil when it took
// nothing (the caller responds to the events).
func (s *Store) Append(ctx context.Context, key string, take func(rec *Record, account string) *incident.Appended) (*Record, error) {
	var out *Record
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		out = nil
		snap, err := tx.Get(s.fs.Collection(Sandboxes).Doc(key))
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		var m openMark
		if err := snap.DataTo(&m); err != nil {
			return err
		}
		isnap, err := tx.Get(s.doc(m.Incident))
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		var rec Record
		if err := isnap.DataTo(&rec); err != nil {
			return err
		}
		if rec.ID != m.Incident || !rec.Open() {
			return nil
		}
		events := take(&rec, m.Account)
		if events == nil || events.Count == 0 {
			return nil
		}
		sum := &incident.Appended{}
		sum.Merge(rec.Appended)
		sum.Merge(events)
		rec.Appended = sum
		out = &rec
		return tx.Update(isnap.Ref, []firestore.Update{{Path: "appended", Value: sum}})
	})
	if err != nil {
		return nil, fmt.Errorf("append events to the open incident of %s: %w", key, err)
	}
	return out, nil
}
