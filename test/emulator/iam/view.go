package iam

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// withcond marks a role name in the version-1 view of a conditional
// binding (https://cloud.google.com/iam/docs/policies#versions).
const withcond = "_withcond_"

// HasConditions reports whether any binding of p has a condition.
func HasConditions(p *iampb.Policy) bool {
	return slices.ContainsFunc(p.GetBindings(), func(b *iampb.Binding) bool { return b.GetCondition() != nil })
}

// PolicyView is the policy getIamPolicy answers for requestedPolicyVersion
// requested (https://cloud.google.com/iam/docs/policies#versions): a
// policy without conditions is version 1 whatever was asked; one with
// conditions is version 3 only when 3 was asked. Asked for less, IAM
// gives a version-1 view: each conditional binding's role name gets
// "_withcond_" and a hash of its condition, and the condition is left
// out, so the view cannot be written back (CheckWrite refuses it).
func PolicyView(p *iampb.Policy, requested int32) *iampb.Policy {
	v := proto.Clone(p).(*iampb.Policy)
	if !HasConditions(v) {
		v.Version = 1
		return v
	}
	if requested == 3 {
		v.Version = 3
		return v
	}
	v.Version = 1
	for _, b := range v.Bindings {
		if c := b.GetCondition(); c != nil {
			h := sha256.Sum256([]byte(c.GetTitle() + "\x00" + c.GetDescription() + "\x00" + c.GetExpression()))
			b.Role += withcond + hex.EncodeToString(h[:10])
			b.Condition = nil
		}
	}
	return v
}

// CheckWrite checks a setIamPolicy of in over stored, as IAM does for
// policy versions (https://cloud.google.com/iam/docs/policies#versions):
// a role name from a version-1 view ("…_withcond_…") names no role and is
// INVALID_ARGUMENT, and a write carrying an etag over a policy that has
// conditions must say version 3 (without an etag IAM lets a version-1
// policy overwrite it, conditions lost, as the reference warns).
func CheckWrite(stored, in *iampb.Policy) error {
	for _, b := range in.GetBindings() {
		if strings.Contains(b.GetRole(), withcond) {
			return status.Errorf(codes.InvalidArgument, "Role %s is the version-1 view of a conditional binding and cannot be set: read the policy with requestedPolicyVersion 3 and write it back with version 3.", b.GetRole())
		}
	}
	if len(in.GetEtag()) > 0 && HasConditions(stored) && in.GetVersion() != 3 {
		return status.Error(codes.InvalidArgument, "The policy has conditional role bindings: a change to it must set version 3 (read it with requestedPolicyVersion 3 and keep that version).")
	}
	return nil
}
