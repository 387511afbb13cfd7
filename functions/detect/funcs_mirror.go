package detect

import (
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// overloadURLNamed is list.urlNamed(coll, names), costed linearly like
// the other catalogue functions.
const overloadURLNamed = "list_urlNamed_string_list"

// urlNamedFunction declares
//
//	refs.urlNamed('instances', ['vm'])  some element is a map whose "url"
//	                                    ends with /instances/<name>, name
//	                                    one of the given (ignoring ASCII
//	                                    case).
//
// A packet mirroring's mirrored resources are such references; checking
// them against the sandbox's names with exists and in would nest two
// loops over entry data.
func urlNamedFunction() cel.EnvOption {
	return cel.Function("urlNamed",
		cel.MemberOverload(overloadURLNamed, []*cel.Type{cel.ListType(cel.DynType), cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				coll, ok := args[1].(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(args[1])
				}
				names, ok := stringSet(args[2])
				if !ok {
					return types.MaybeNoSuchOverloadErr(args[2])
				}
				return types.Bool(anyElement(args[0], func(v ref.Val) bool {
					m, ok := v.(traits.Mapper)
					if !ok {
						return false
					}
					u, _ := m.Find(types.String("url"))
					s, ok := u.(types.String)
					if !ok {
						return false
					}
					i := strings.LastIndex(string(s), "/")
					return i > 0 && strings.HasSuffix(string(s)[:i+1], "/"+string(coll)+"/") && names[strings.ToLower(string(s)[i+1:])]
				}))
			})))
}
