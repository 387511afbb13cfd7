// Package detail carries, from a fake to the audit gate, the parts of a
// Cloud Audit Logs entry only the service knows once it has served the
// call: serviceData (an IAM policy delta) and metadata (a Compute metadata
// delta). The gate puts a holder in the call's context; a fake that serves
// a method for which GCP writes such fields fills it; the gate copies them
// into the entry it writes. Fakes never import the gate: this package
// imports nothing of the emulator.
package detail

import (
	"context"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/iam/apiv1/iampb"
	iamlogging "google.golang.org/genproto/googleapis/iam/v1/logging"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Holder is what one call adds to its audit entry.
type Holder struct {
	mu          sync.Mutex
	serviceData *anypb.Any
	metadata    *structpb.Struct
}

type key struct{}

// With returns ctx carrying a fresh Holder, and the Holder.
func With(ctx context.Context) (context.Context, *Holder) {
	h := &Holder{}
	return context.WithValue(ctx, key{}, h), h
}

// ServiceData and Metadata return what the fake recorded (nil if nothing).
func (h *Holder) ServiceData() *anypb.Any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.serviceData
}

// Metadata returns the entry's metadata, nil if none was recorded.
func (h *Holder) Metadata() *structpb.Struct {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.metadata
}

// SetMetadata records the entry's metadata; a call without a holder (a
// test calling the fake directly) records nothing.
func SetMetadata(ctx context.Context, m *structpb.Struct) {
	if h, ok := ctx.Value(key{}).(*Holder); ok && m != nil {
		h.mu.Lock()
		h.metadata = m
		h.mu.Unlock()
	}
}

// SetPolicyDelta records, as serviceData of type
// google.iam.v1.logging.AuditData, the difference SetIamPolicy made
// between before and after: one BindingDelta per member added to or
// removed from a role, one AuditConfigDelta per log type (or exempted
// member) added or removed. This is what IAM writes for every
// SetIamPolicy: google.iam.v1.PolicyDelta, one delta per member
// (https://cloud.google.com/java/docs/reference/proto-google-iam-v1/latest/com.google.iam.v1).
func SetPolicyDelta(ctx context.Context, before, after *iampb.Policy) {
	h, ok := ctx.Value(key{}).(*Holder)
	if !ok {
		return
	}
	d := PolicyDelta(before, after)
	a, err := anypb.New(&iamlogging.AuditData{PolicyDelta: d})
	if err != nil {
		return
	}
	h.mu.Lock()
	h.serviceData = a
	h.mu.Unlock()
}

// PolicyDelta is the difference between two policies, in IAM's terms.
func PolicyDelta(before, after *iampb.Policy) *iampb.PolicyDelta {
	d := &iampb.PolicyDelta{}
	old, cur := members(before), members(after)
	for _, k := range sortedKeys(cur) {
		if !old[k] {
			d.BindingDeltas = append(d.BindingDeltas, &iampb.BindingDelta{Action: iampb.BindingDelta_ADD, Role: k[0], Member: k[1]})
		}
	}
	for _, k := range sortedKeys(old) {
		if !cur[k] {
			d.BindingDeltas = append(d.BindingDeltas, &iampb.BindingDelta{Action: iampb.BindingDelta_REMOVE, Role: k[0], Member: k[1]})
		}
	}
	oldA, curA := auditLogTypes(before), auditLogTypes(after)
	for _, k := range sortedKeys(curA) {
		if !oldA[k] {
			d.AuditConfigDeltas = append(d.AuditConfigDeltas, auditDelta(iampb.AuditConfigDelta_ADD, k))
		}
	}
	for _, k := range sortedKeys(oldA) {
		if !curA[k] {
			d.AuditConfigDeltas = append(d.AuditConfigDeltas, auditDelta(iampb.AuditConfigDelta_REMOVE, k))
		}
	}
	return d
}

func auditDelta(a iampb.AuditConfigDelta_Action, k [2]string) *iampb.AuditConfigDelta {
	service, rest, _ := strings.Cut(k[0], "\x00")
	return &iampb.AuditConfigDelta{Action: a, Service: service, LogType: rest, ExemptedMember: k[1]}
}

// members is the set of (role, member) pairs of p.
func members(p *iampb.Policy) map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, b := range p.GetBindings() {
		for _, m := range b.GetMembers() {
			out[[2]string{b.GetRole(), m}] = true
		}
	}
	return out
}

// auditLogTypes is the set of ("service\x00LOG_TYPE", exempted member or "")
// pairs of p's audit configs.
func auditLogTypes(p *iampb.Policy) map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, ac := range p.GetAuditConfigs() {
		for _, lc := range ac.GetAuditLogConfigs() {
			k := ac.GetService() + "\x00" + lc.GetLogType().String()
			out[[2]string{k, ""}] = true
			for _, m := range lc.GetExemptedMembers() {
				out[[2]string{k, m}] = true
			}
		}
	}
	return out
}

func sortedKeys(m map[[2]string]bool) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return out
}

// MetadataDelta returns the Compute audit entry's metadata for a change of
// metadata from before to after: under field ("instanceMetadataDelta" or
// "projectMetadataDelta"), the keys added, modified and deleted, as
// Compute Engine writes them (keys only, never values).
func MetadataDelta(field string, before, after map[string]string) *structpb.Struct {
	var added, modified, deleted []any
	for _, k := range sortedStrings(after) {
		old, ok := before[k]
		switch {
		case !ok:
			added = append(added, k)
		case old != after[k]:
			modified = append(modified, k)
		}
	}
	for _, k := range sortedStrings(before) {
		if _, ok := after[k]; !ok {
			deleted = append(deleted, k)
		}
	}
	delta := map[string]any{}
	if len(added) > 0 {
		delta["addedMetadataKeys"] = added
	}
	if len(modified) > 0 {
		delta["modifiedMetadataKeys"] = modified
	}
	if len(deleted) > 0 {
		delta["deletedMetadataKeys"] = deleted
	}
	s, err := structpb.NewStruct(map[string]any{field: delta})
	if err != nil {
		return nil
	}
	return s
}

func sortedStrings(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
