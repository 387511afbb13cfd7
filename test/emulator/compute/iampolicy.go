package compute

import (
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// iamPolicyRoutes registers getIamPolicy and setIamPolicy of disks,
// snapshots and images: who, beside the project's members, may use them — how a disk
// or snapshot is shared with another project or account
// (https://cloud.google.com/compute/docs/reference/rest/v1/disks/setIamPolicy,
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/setIamPolicy,
// https://cloud.google.com/compute/docs/reference/rest/v1/images/setIamPolicy).
// setIamPolicy answers the new policy at once (no operation). The policy
// is stored and returned; the emulated IAM does not consult it (a grant on
// a disk gives the emulated principal nothing it could use).
func (s *Server) iamPolicyRoutes() {
	for _, coll := range []struct{ scope, name string }{{"zones", "disks"}, {"global", "snapshots"}, {"global", "images"}} {
		coll := coll
		s.handle("GET "+coll.scope+"/"+coll.name+"/{}/getIamPolicy", endpoint{method: "compute." + coll.name + ".getIamPolicy", read: func(c *call) (any, error) {
			return s.getResourcePolicy(c, c.key(coll.name, c.name))
		}})
		s.handle("POST "+coll.scope+"/"+coll.name+"/{}/setIamPolicy", endpoint{method: "compute." + coll.name + ".setIamPolicy", read: func(c *call) (any, error) {
			return s.setResourcePolicy(c, c.key(coll.name, c.name))
		}})
	}
}

// policyKey is where a resource's IAM policy is kept: outside the
// collections' key space, so lists never see it.
func policyKey(key string) string { return "iam:" + key }

// resourcePolicy returns the resource's policy (empty, etag "ACAB", when
// none was set). Callers hold s.mu.
func (s *Server) resourcePolicy(key string) (*computepb.Policy, error) {
	if _, err := s.get(key); err != nil {
		return nil, err
	}
	if p, ok := s.objects[policyKey(key)]; ok {
		return proto.Clone(p).(*computepb.Policy), nil
	}
	return &computepb.Policy{Etag: proto.String("ACAB"), Version: proto.Int32(1)}, nil
}

// getResourcePolicy answers getIamPolicy: the resource's policy in the
// view of optionsRequestedPolicyVersion (0, 1 or 3), as IAM gives every
// allow policy (policyView). Callers hold s.mu.
func (s *Server) getResourcePolicy(c *call, key string) (*computepb.Policy, error) {
	var requested int32
	if v := c.query("optionsRequestedPolicyVersion"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || (n != 0 && n != 1 && n != 3) {
			return nil, errInvalidField("optionsRequestedPolicyVersion", v, "Must be 0, 1 or 3.")
		}
		requested = int32(n)
	}
	p, err := s.resourcePolicy(key)
	if err != nil {
		return nil, err
	}
	return policyView(p, requested), nil
}

// policyView is iam.PolicyView of a Compute policy: the same versions and
// version-1 view of conditional bindings, kept in Compute's message.
func policyView(p *computepb.Policy, requested int32) *computepb.Policy {
	view := iam.PolicyView(iamPolicy(p), requested)
	out := proto.Clone(p).(*computepb.Policy)
	out.Version = proto.Int32(view.GetVersion())
	for i, b := range out.GetBindings() {
		b.Role = proto.String(view.GetBindings()[i].GetRole())
		if view.GetBindings()[i].GetCondition() == nil {
			b.Condition = nil
		}
	}
	return out
}

// iamPolicy is what of a Compute policy IAM's version rules read —
// version, etag, each binding's role and condition, in order — as the IAM
// API's Policy, so iam.PolicyView and iam.CheckWrite judge it.
func iamPolicy(p *computepb.Policy) *iampb.Policy {
	out := &iampb.Policy{Version: p.GetVersion()}
	if p.Etag != nil {
		out.Etag = []byte(p.GetEtag())
	}
	for _, b := range p.GetBindings() {
		ib := &iampb.Binding{Role: b.GetRole()}
		if c := b.GetCondition(); c != nil {
			ib.Condition = &expr.Expr{Title: c.GetTitle(), Description: c.GetDescription(), Expression: c.GetExpression(), Location: c.GetLocation()}
		}
		out.Bindings = append(out.Bindings, ib)
	}
	return out
}

// setResourcePolicy replaces the resource's policy with the request's
// (ZoneSetPolicyRequest and GlobalSetPolicyRequest share its JSON shape):
// policy, or bindings and etag at the top level; a stale etag is 412, and
// a write IAM's version rules refuse (iam.CheckWrite) is 400. The stored
// version is what the bindings need: 3 with conditions, 1 without.
// Callers hold s.mu.
func (s *Server) setResourcePolicy(c *call, key string) (any, error) {
	cur, err := s.resourcePolicy(key)
	if err != nil {
		return nil, err
	}
	var req computepb.GlobalSetPolicyRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	next := req.GetPolicy()
	if next == nil {
		next = &computepb.Policy{Bindings: req.GetBindings(), Etag: req.Etag}
	}
	next = proto.Clone(next).(*computepb.Policy)
	if next.Etag != nil && next.GetEtag() != cur.GetEtag() {
		return nil, errConditionNotMet("Supplied fingerprint does not match current IAM policy etag.")
	}
	if err := iam.CheckWrite(iamPolicy(cur), iamPolicy(next)); err != nil {
		return nil, errInvalid(status.Convert(err).Message())
	}
	next.Etag = proto.String(s.fingerprint(policyKey(key)))
	next.Version = proto.Int32(1)
	if iam.HasConditions(iamPolicy(next)) {
		next.Version = proto.Int32(3)
	}
	s.objects[policyKey(key)] = next
	return proto.Clone(next), nil
}
