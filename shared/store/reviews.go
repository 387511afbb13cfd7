package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reviews holds one document per sandbox: what the weekly reviews have
// seen it do (the methods its account called, where its VM connected),
// so the next review says what is new. Only coopguard's accounts write
// it; nothing the sandbox writes decides what counts as seen.
const Reviews = "reviews"

// ReviewMark is what the reviews of one sandbox have seen so far.
type ReviewMark struct {
	Sandbox string `firestore:"sandbox"`
	// Methods and Destinations are every method and NAT destination a
	// review has listed, sorted.
	Methods      []string  `firestore:"methods"`
	Destinations []string  `firestore:"destinations"`
	ReviewedAt   time.Time `firestore:"reviewedAt"`
}

// maxMarked bounds each list of a mark (a Firestore document is at most
// 1 MiB): beyond it the oldest-sorted names are dropped, and show as new
// again.
const maxMarked = 2000

// LastReview returns the sandbox's mark; a zero mark (ReviewedAt zero)
// when no review has recorded one.
func (s *Store) LastReview(ctx context.Context, sandbox string) (ReviewMark, error) {
	snap, err := s.fs.Collection(Reviews).Doc(sandbox).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return ReviewMark{Sandbox: sandbox}, nil
	}
	if err != nil {
		return ReviewMark{}, fmt.Errorf("read the last review of sandbox %s: %w", sandbox, err)
	}
	var m ReviewMark
	if err := snap.DataTo(&m); err != nil {
		return ReviewMark{}, fmt.Errorf("read the last review of sandbox %s: %w", sandbox, err)
	}
	return m, nil
}

// RecordReview adds what a review saw to the sandbox's mark, in a
// transaction (two reviews at once both land).
func (s *Store) RecordReview(ctx context.Context, sandbox string, methods, destinations []string, at time.Time) error {
	if sandbox == "" || strings.Contains(sandbox, "/") {
		return errors.New("record review: a sandbox name is required")
	}
	ref := s.fs.Collection(Reviews).Doc(sandbox)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		m := ReviewMark{Sandbox: sandbox}
		snap, err := tx.Get(ref)
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return err
		default:
			if err := snap.DataTo(&m); err != nil {
				return err
			}
		}
		m.Methods, m.Destinations, m.ReviewedAt = union(m.Methods, methods), union(m.Destinations, destinations), at
		return tx.Set(ref, m)
	})
	if err != nil {
		return fmt.Errorf("record the review of sandbox %s: %w", sandbox, err)
	}
	return nil
}

// union is a ∪ b, sorted, at most maxMarked long.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxMarked {
		out = out[len(out)-maxMarked:]
	}
	return out
}
