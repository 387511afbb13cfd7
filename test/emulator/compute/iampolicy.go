package compute

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
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
			return s.resourcePolicy(c.key(coll.name, c.name))
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

// setResourcePolicy replaces the resource's policy with the request's
// (ZoneSetPolicyRequest and GlobalSetPolicyRequest share its JSON shape):
// policy, or bindings and etag at the top level; a stale etag is 412.
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
	next.Etag = proto.String(s.fingerprint(policyKey(key)))
	if next.Version == nil {
		next.Version = proto.Int32(1)
	}
	s.objects[policyKey(key)] = next
	return proto.Clone(next), nil
}
