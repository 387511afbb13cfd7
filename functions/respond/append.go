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
	events []pendingEvent
	done   chan struct{}
	rec    *store.Record
	// own is the id of the open incident when one of the events is a
	// delivery of that incident's own event: that one is not appended
	// (Respond answers it).
	own string
	err error
}

// pendingEvent is one event waiting to be appended.
type pendingEvent struct {
	id, method, rule string
	at               time.Time
}

// Later is an event about a sandbox, as Append takes it: its incident,
// and the principal whose call it is and the API method.
type Later struct {
	Incident          incident.Incident
	Principal, Method string
}

// Append appends the event ev to the open incident of its sandbox, named
// sandbox (the VM's name, or its numeric id), when there is one whose
// playbook does at least what ev's would and ev is a call by that
// sandbox's own account (what a stolen token makes; another principal's
// call is its own incident): no plan runs, nothing is read from Cloud
// Logging, and the incident's own response (its actions, the key versions
// it disabled) is untouched. It
// returns that incident's report and true; false means no open incident
// took the event, and the caller responds to it. Events about one sandbox
// that arrive while its append is being written are coalesced into the
// next write: one Firestore transaction per batch, however many events.
func (r *Responder) Append(ctx context.Context, sandbox string, ev Later) (*incident.Report, bool, error) {
	if r.st == nil {
		return nil, false, ErrNoStore
	}
	if sandbox == "" || ev.Principal == "" {
		return nil, false, nil
	}
	inc := ev.Incident
	dry := inc.DryRun || r.cfg.Coopguard.DryRun
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%t", sandbox, ev.Principal, inc.Playbook, dry)
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
	b.events = append(b.events, pendingEvent{id: inc.ID, method: ev.Method, rule: inc.Trigger, at: at})
	leader := !s.running
	if leader {
		s.running, s.next = true, nil
	}
	r.appendMu.Unlock()
	if leader {
		go r.appendLoop(logger.WithLogger(context.Background(), logger.FromContext(ctx)), key, sandbox, ev.Principal, inc.Playbook, dry, b)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if b.err != nil || b.rec == nil || b.own == inc.ID {
		return nil, false, b.err
	}
	rep := b.rec.View()
	return &rep, true, nil
}

// appendLoop writes b, then every batch that gathered meanwhile, one
// transaction each, until none is waiting.
func (r *Responder) appendLoop(ctx context.Context, key, sandbox, principal, playbook string, dry bool, b *appendBatch) {
	for b != nil {
		start := time.Now()
		var n int
		b.rec, b.err = r.st.Append(ctx, sandbox, func(rec *store.Record, account string) *incident.Appended {
			b.own, n = "", 0
			if account != principal || strength(rec.Incident.Playbook) < strength(playbook) || (rec.Incident.DryRun && !dry) {
				return nil
			}
			sum := &incident.Appended{}
			for _, e := range b.events {
				if e.id == rec.ID {
					// A redelivery of the incident's own event.
					b.own = rec.ID
					continue
				}
				sum.Add(e.at, e.method, e.rule)
				n++
			}
			return sum
		})
		if b.rec != nil {
			logger.FromContext(ctx).Info("later events appended to the sandbox's open incident",
				"incident", b.rec.ID, "sandbox", sandbox, "events", n, "seconds", time.Since(start).Seconds())
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
