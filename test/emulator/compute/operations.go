package compute

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// operationUser is the account an operation says started it when the
// request carries no authenticated caller (the fake served without the
// emulated IAM in front of it, as in this package's tests).
const operationUser = "coopguard-emulator@cloudcoop.test"

// callerOf is the email of the caller the emulated IAM authenticated, the
// `user` GCP writes on the operation.
func callerOf(c *call) string {
	if email, ok := iam.PrincipalFrom(c.r.Context()); ok && email != "" {
		return email
	}
	return operationUser
}

// operationRoutes registers get, wait, delete and list of zonal, regional
// and global operations.
func (s *Server) operationRoutes() {
	for scope, coll := range map[string]string{"zones": "zoneOperations", "regions": "regionOperations", "global": "globalOperations"} {
		s.handle("GET "+scope+"/operations/{}", endpoint{method: "compute." + coll + ".get", read: s.getOperation})
		s.handle("POST "+scope+"/operations/{}/wait", endpoint{method: "compute." + coll + ".wait", block: s.waitOperation})
		s.handle("DELETE "+scope+"/operations/{}", endpoint{method: "compute." + coll + ".delete", read: s.deleteOperation})
		s.handle("GET "+scope+"/operations", endpoint{method: "compute." + coll + ".list", read: s.listOperations})
	}
}

// pendingOp is an operation that is not DONE yet.
type pendingOp struct {
	op    *computepb.Operation
	start time.Time
	// at is when it is DONE; done, if set, completes its change then.
	at   time.Time
	done func()
	// waited is set once someone polls or waits on it (NextDeadline).
	waited bool
}

// newOperation records an operation for a mutation of t in the call's
// scope, DONE after the profile's duration for method (or at t.until);
// opErr, if set, is what it reports once DONE. Callers hold s.mu.
func (s *Server) newOperation(c *call, method string, t target, opErr *apiError) *computepb.Operation {
	s.seq++
	now := s.now()
	name := fmt.Sprintf("operation-%d-%016x", now.UnixMilli(), newID(fmt.Sprintf("op#%d", s.seq)))
	key := c.scopePath() + "/operations/" + name
	at := now.Add(s.profile.duration(method))
	if !t.until.IsZero() {
		at = t.until
	}
	// GCP's answer to a mutation is its operation RUNNING at progress 0,
	// however long the work will take.
	status := computepb.Operation_RUNNING
	op := &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(newID(key)),
		Name:          proto.String(name),
		OperationType: proto.String(method[strings.LastIndex(method, ".")+1:]),
		TargetLink:    proto.String(selfLinkBase + t.key),
		SelfLink:      proto.String(selfLinkBase + key),
		User:          proto.String(callerOf(c)),
		Progress:      proto.Int32(0),
		InsertTime:    proto.String(timestamp(now)),
		StartTime:     proto.String(timestamp(now)),
		Status:        status.Enum(),
	}
	if t.id != 0 {
		op.TargetId = proto.Uint64(t.id)
	}
	switch c.scope {
	case "zones":
		op.Zone = proto.String(selfLinkBase + c.scopePath())
	case "regions":
		op.Region = proto.String(selfLinkBase + c.scopePath())
	}
	s.ops[key] = op
	s.pending[key] = &pendingOp{op: op, start: now, at: at}
	if opErr != nil {
		s.opErrs[key] = opErr
	}
	return op
}

// settle completes, in order of their deadlines, the operations whose
// time has come on the emulator's clock, and moves the others along
// (progress). An operation made by this very request
// is not settled until the next one. Callers hold s.mu.
func (s *Server) settle() {
	now := s.now()
	var due []string
	for key, p := range s.pending {
		if !p.at.After(now) {
			due = append(due, key)
			continue
		}
		if now.After(p.start) {
			p.op.Status = computepb.Operation_RUNNING.Enum()
			p.op.Progress = proto.Int32(int32(100 * now.Sub(p.start) / p.at.Sub(p.start)))
		}
	}
	if len(due) == 0 {
		return
	}
	sort.Slice(due, func(i, j int) bool {
		a, b := s.pending[due[i]], s.pending[due[j]]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return due[i] < due[j]
	})
	for _, key := range due {
		p := s.pending[key]
		delete(s.pending, key)
		if p.done != nil {
			p.done()
		}
		s.finish(key, p.op, p.at)
	}
	s.notify()
}

// finish turns an operation DONE at the time at, attaching its error if any.
func (s *Server) finish(key string, op *computepb.Operation, at time.Time) {
	op.Status = computepb.Operation_DONE.Enum()
	op.Progress = proto.Int32(100)
	op.EndTime = proto.String(timestamp(at))
	if e := s.opErrs[key]; e != nil {
		op.HttpErrorStatusCode = proto.Int32(int32(e.code))
		op.HttpErrorMessage = proto.String(strings.ToUpper(http.StatusText(e.code)))
		op.Error = &computepb.Error{Errors: []*computepb.Errors{{
			Code:    proto.String(e.reason),
			Message: proto.String(e.message),
		}}}
	}
}

// getOperation serves operations get: the operation as of now.
func (s *Server) getOperation(c *call) (any, error) {
	key := c.key("operations", c.name)
	op, ok := s.ops[key]
	if !ok {
		return nil, errNotFound(key)
	}
	if p := s.pending[key]; p != nil {
		p.waited = true
		if s.advance != nil {
			// The client library waits by polling get: virtual time
			// moves the clock to the operation's end (AdvanceOnWait).
			s.advance(p.at)
			s.settle()
		}
	}
	return proto.Clone(op), nil
}

// waitPoll is how often a blocked wait looks at the emulator's clock,
// which tests move without telling anyone.
const waitPoll = 2 * time.Millisecond

// waitOperation serves operations wait: it answers when the operation is
// DONE or, as GCP does, after about two minutes (on the emulator's clock)
// with the operation as it is then.
func (s *Server) waitOperation(c *call) (any, error) {
	key := c.key("operations", c.name)
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	var until time.Time
	for {
		s.lock()
		op, ok := s.ops[key]
		now := s.now()
		if until.IsZero() {
			until = now.Add(waitDeadline)
		}
		changed := s.changed
		var out proto.Message
		if ok && (op.GetStatus() == computepb.Operation_DONE || !now.Before(until)) {
			out = proto.Clone(op)
		}
		var jump time.Time
		if p := s.pending[key]; p != nil {
			p.waited = true
		}
		if p := s.pending[key]; out == nil && p != nil && s.advance != nil {
			jump = p.at
			if jump.After(until) {
				jump = until
			}
		}
		advance := s.advance
		s.mu.Unlock()
		if !jump.IsZero() {
			advance(jump)
			continue
		}
		switch {
		case !ok:
			return nil, errNotFound(key)
		case out != nil:
			return out, nil
		}
		select {
		case <-c.r.Context().Done():
			return nil, c.r.Context().Err()
		case <-changed:
		case <-tick.C:
		}
	}
}

// deleteOperation forgets an operation; the API answers with an empty body.
func (s *Server) deleteOperation(c *call) (any, error) {
	key := c.key("operations", c.name)
	if _, ok := s.ops[key]; !ok {
		return nil, errNotFound(key)
	}
	delete(s.ops, key)
	delete(s.opErrs, key)
	return &computepb.DeleteZoneOperationResponse{}, nil
}

// listOperations lists the operations of the call's scope, oldest first,
// without paging: tests keep few of them.
func (s *Server) listOperations(c *call) (any, error) {
	f, err := parseFilter(c.query("filter"))
	if err != nil {
		return nil, err
	}
	prefix := c.key("operations", "")
	page := &listPage{kind: "compute#operationList", self: selfLinkBase + strings.TrimSuffix(prefix, "/")}
	for key, op := range s.ops {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		ok, err := f.match(op)
		if err != nil {
			return nil, err
		}
		if ok {
			page.items = append(page.items, proto.Clone(op))
		}
	}
	sortByName(page.items)
	return page, nil
}
