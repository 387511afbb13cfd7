package compute

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// operationUser is the account operations say started them; the fake has
// no authentication, so one made-up account stands for every caller.
const operationUser = "coopguard-emulator@cloudcoop.test"

// operationRoutes registers get, wait, delete and list of zonal, regional
// and global operations.
func (s *Server) operationRoutes() {
	for scope, coll := range map[string]string{"zones": "zoneOperations", "regions": "regionOperations", "global": "globalOperations"} {
		s.handle("GET "+scope+"/operations/{}", endpoint{method: "compute." + coll + ".get", read: s.getOperation})
		s.handle("POST "+scope+"/operations/{}/wait", endpoint{method: "compute." + coll + ".wait", read: s.getOperation})
		s.handle("DELETE "+scope+"/operations/{}", endpoint{method: "compute." + coll + ".delete", read: s.deleteOperation})
		s.handle("GET "+scope+"/operations", endpoint{method: "compute." + coll + ".list", read: s.listOperations})
	}
}

// newOperation records a RUNNING operation for a mutation of t in the
// call's scope; opErr, if set, is what it reports once DONE. Callers hold
// s.mu.
func (s *Server) newOperation(c *call, method string, t target, opErr *apiError) *computepb.Operation {
	s.seq++
	now := time.Now()
	name := fmt.Sprintf("operation-%d-%016x", now.UnixMilli(), newID(fmt.Sprintf("op#%d", s.seq)))
	key := c.scopePath() + "/operations/" + name
	op := &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(newID(key)),
		Name:          proto.String(name),
		OperationType: proto.String(method[strings.LastIndex(method, ".")+1:]),
		TargetLink:    proto.String(selfLinkBase + t.key),
		SelfLink:      proto.String(selfLinkBase + key),
		User:          proto.String(operationUser),
		Progress:      proto.Int32(0),
		InsertTime:    proto.String(timestamp(now)),
		StartTime:     proto.String(timestamp(now)),
		Status:        computepb.Operation_RUNNING.Enum(),
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
	if opErr != nil {
		s.opErrs[key] = opErr
	}
	return op
}

// finish turns a RUNNING operation DONE, attaching its error if any: the
// first look at an operation after its mutation is when it completes.
func (s *Server) finish(key string, op *computepb.Operation) {
	if op.GetStatus() == computepb.Operation_DONE {
		return
	}
	op.Status = computepb.Operation_DONE.Enum()
	op.Progress = proto.Int32(100)
	op.EndTime = proto.String(timestamp(time.Now()))
	if e := s.opErrs[key]; e != nil {
		op.HttpErrorStatusCode = proto.Int32(int32(e.code))
		op.HttpErrorMessage = proto.String(strings.ToUpper(http.StatusText(e.code)))
		op.Error = &computepb.Error{Errors: []*computepb.Errors{{
			Code:    proto.String(e.reason),
			Message: proto.String(e.message),
		}}}
	}
}

// getOperation serves operations get and wait: both report DONE, since
// the mutation behind every operation has already been applied.
func (s *Server) getOperation(c *call) (any, error) {
	key := c.key("operations", c.name)
	op, ok := s.ops[key]
	if !ok {
		return nil, errNotFound(key)
	}
	s.finish(key, op)
	return proto.Clone(op), nil
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
