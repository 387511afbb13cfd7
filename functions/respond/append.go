package respond

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/store"
)

// strength orders playbooks by how much they do: an open incident takes a
// later event only if its playbook does at least what the event's would.
func strength(playbook string) int {
	switch playbook {
	case incident.PlaybookContain:
		return 2
	case incident.PlaybookQuarantine:
		return 1
	}
	return 0
}

// marks reports whether inc, once it acts, is the incident later events
// about its sandbox are appended to: a containment that is not a dry run.
func marks(inc incident.Incident) bool {
	return !inc.DryRun && strength(inc.Playbook) > 0
}

// appendSlot is one sandbox's (and playbook's) appends: at most one
// transaction runs at a time; the events that arrive meanwhile wait in
// next and go together in the following one.
type appendSlot struct {
	running bool
	next    *appendBatch
}

// appendBatch is the events of one transaction and its answer.
type appendBatch struct {
	events incident.Appended
	done   chan struct{}
	rec    *store.Record
	err    error
}

// Append appends the event inc (API method method) to the open incident
// of its sandbox, named sandbox (the VM's name, or its numeric id), when
// there is one whose playbook does at least what inc's would: no plan
// runs, nothing is read from Cloud Logging, and the incident's own
// response (its actions, the key versions it disabled) is untouched. It
// returns that incident's report and true; false means no open incident
// took the event, and the caller responds to it. Events about one sandbox
// that arrive while its append is being written are coalesced into the
// next write: one Firestore transaction per batch, however many events.
func (r *Responder) Append(ctx context.Context, sandbox string, inc incident.Incident, method string) (*incident.Report, bool, error) {
	if r.st == nil {
		return nil, false, ErrNoStore
	}
	if sandbox == "" {
		return nil, false, nil
	}
	dry := inc.DryRun || r.cfg.Coopguard.DryRun
	key := fmt.Sprintf("%s\x00%s\x00%t", sandbox, inc.Playbook, dry)
	at := inc.StartedAt
	if at.IsZero() {
		at = r.now()
	}
	r.appendMu.Lock()
	s := r.appends[key]
	if s == nil {
		s = &appendSlot{}
		r.appends[key] = s
	}
	if s.next == nil {
		s.next = &appendBatch{done: make(chan struct{})}
	}
	b := s.next
	b.events.Add(at, method, inc.Trigger)
	leader := !s.running
	if leader {
		s.running, s.next = true, nil
	}
	r.appendMu.Unlock()
	if leader {
		go r.appendLoop(context.WithoutCancel(ctx), key, sandbox, inc.Playbook, dry, b)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if b.err != nil || b.rec == nil {
		return nil, false, b.err
	}
	rep := b.rec.View()
	return &rep, true, nil
}

// appendLoop writes b, then every batch that gathered meanwhile, one
// transaction each, until none is waiting.
func (r *Responder) appendLoop(ctx context.Context, key, sandbox, playbook string, dry bool, b *appendBatch) {
	takes := func(rec *store.Record) bool {
		return strength(rec.Incident.Playbook) >= strength(playbook) && (dry || !rec.Incident.DryRun)
	}
	for b != nil {
		start := time.Now()
		b.rec, b.err = r.st.Append(ctx, sandbox, &b.events, takes)
		if b.rec != nil {
			logger.FromContext(ctx).Info("later events appended to the sandbox's open incident",
				"incident", b.rec.ID, "sandbox", sandbox, "events", b.events.Count, "seconds", time.Since(start).Seconds())
		}
		close(b.done)
		r.appendMu.Lock()
		s := r.appends[key]
		b, s.next = s.next, nil
		if b == nil {
			s.running = false
			delete(r.appends, key)
		}
		r.appendMu.Unlock()
	}
}
