package detect

import (
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/cloudcoop/coopguard/shared/events"
)

// Overloads of the list functions the catalogue rules use. A comprehension
// (exists) over entry data with a string function inside is estimated at
// the list's size times the strings' size, far over MaxEstimatedCost; these
// do the same single pass in Go, so they are costed linearly.
const (
	overloadAnyOf       = "list_anyOf_list"
	overloadAddsMember  = "list_addsMember_string"
	overloadCheckedOn   = "list_checkedOn_string"
	catalogueLinearCost = events.MaxPayloadSize / 8
)

// catalogueFunctions declares:
//
//	list.anyOf(['a', 'b'])       some element is a string equal, ignoring
//	                             ASCII case, to one of the given strings;
//	deltas.addsMember('m')       some element is a policy BindingDelta
//	                             (a map) with action ADD and member m
//	                             (ignoring case); '' matches any member.
//	infos.checkedOn('perm')      the resource of the first element that
//	                             is an AuthorizationInfo (a map) checking
//	                             permission perm; '' when none does.
func catalogueFunctions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("anyOf",
			cel.MemberOverload(overloadAnyOf, []*cel.Type{cel.ListType(cel.DynType), cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(func(l, set ref.Val) ref.Val {
					want, ok := stringSet(set)
					if !ok {
						return types.MaybeNoSuchOverloadErr(set)
					}
					return types.Bool(anyElement(l, func(v ref.Val) bool {
						s, ok := v.(types.String)
						return ok && want[strings.ToLower(string(s))]
					}))
				}))),
		cel.Function("addsMember",
			cel.MemberOverload(overloadAddsMember, []*cel.Type{cel.ListType(cel.DynType), cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(l, m ref.Val) ref.Val {
					member, ok := m.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(m)
					}
					return types.Bool(anyElement(l, func(v ref.Val) bool {
						d, ok := v.(traits.Mapper)
						if !ok {
							return false
						}
						action, _ := d.Find(types.String("action"))
						who, _ := d.Find(types.String("member"))
						a, aok := action.(types.String)
						w, wok := who.(types.String)
						return aok && wok && a == "ADD" && (member == "" || strings.EqualFold(string(w), string(member)))
					}))
				}))),
		cel.Function("checkedOn",
			cel.MemberOverload(overloadCheckedOn, []*cel.Type{cel.ListType(cel.DynType), cel.StringType}, cel.StringType,
				cel.BinaryBinding(func(l, p ref.Val) ref.Val {
					perm, ok := p.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(p)
					}
					var res types.String
					anyElement(l, func(v ref.Val) bool {
						a, ok := v.(traits.Mapper)
						if !ok {
							return false
						}
						got, _ := a.Find(types.String("permission"))
						on, _ := a.Find(types.String("resource"))
						g, gok := got.(types.String)
						r, rok := on.(types.String)
						if gok && rok && g == perm {
							res = r
							return true
						}
						return false
					})
					return res
				}))),
		urlNamedFunction(),
	}
}

// anyElement reports whether some element of the CEL list l satisfies f;
// false for anything that is not a list.
func anyElement(l ref.Val, f func(ref.Val) bool) bool {
	lst, ok := l.(traits.Lister)
	if !ok {
		return false
	}
	for it := lst.Iterator(); it.HasNext() == types.True; {
		if f(it.Next()) {
			return true
		}
	}
	return false
}

// stringSet lowers the strings of a CEL list into a set.
func stringSet(v ref.Val) (map[string]bool, bool) {
	lst, ok := v.(traits.Lister)
	if !ok {
		return nil, false
	}
	out := map[string]bool{}
	for it := lst.Iterator(); it.HasNext() == types.True; {
		s, ok := it.Next().(types.String)
		if !ok {
			return nil, false
		}
		out[strings.ToLower(string(s))] = true
	}
	return out, true
}

// catalogueCallCost is the estimated cost of the functions above: one
// pass over a list from a payload of at most events.MaxPayloadSize bytes.
func catalogueCallCost(overloadID string) *checker.CallEstimate {
	switch overloadID {
	case overloadAnyOf, overloadAddsMember, overloadCheckedOn, overloadURLNamed:
		return &checker.CallEstimate{CostEstimate: checker.CostEstimate{Min: 1, Max: catalogueLinearCost}}
	}
	return nil
}
