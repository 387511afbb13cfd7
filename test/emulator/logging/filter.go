package logging

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// comparison is one term of the Logging query language subset the fake
// understands: FIELD OP VALUE with OP one of = != > < >= <= : (has).
type comparison struct {
	field, op, value string
	// when is the parsed value of a timestamp term.
	when time.Time
	// level is the parsed value of a severity term.
	level ltype.LogSeverity
}

// query is a conjunction of comparisons. Terms may be joined by AND or just
// by whitespace, as in the real language; OR, NOT, "-" and parentheses are
// refused by name so a caller knows the fake, not its query, fell short.
type query []comparison

func parseQuery(s string) (query, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	var q query
	for i := 0; i < len(toks); {
		switch tok := toks[i]; {
		case tok == "AND":
			i++
			continue
		case tok == "OR" || tok == "NOT" || tok == "(" || tok == ")" || strings.HasPrefix(tok, "-"):
			return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter syntax %q in %q: the emulator supports only comparisons joined by AND.", tok, s)
		}
		if i+2 >= len(toks) || !isOp(toks[i+1]) {
			return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter term starting at %q in %q: expected FIELD OP VALUE.", toks[i], s)
		}
		c := comparison{field: toks[i], op: toks[i+1], value: unquote(toks[i+2])}
		if err := c.check(); err != nil {
			return nil, err
		}
		q = append(q, c)
		i += 3
	}
	return q, nil
}

func isOp(t string) bool {
	switch t {
	case "=", "!=", ">", "<", ">=", "<=", ":":
		return true
	}
	return false
}

// check validates the field and parses typed values.
func (c *comparison) check() error {
	switch {
	case c.field == "timestamp":
		t, err := time.Parse(time.RFC3339Nano, c.value)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "Invalid timestamp %q in filter: expected RFC 3339.", c.value)
		}
		c.when = t
	case c.field == "severity":
		if v, ok := ltype.LogSeverity_value[strings.ToUpper(c.value)]; ok {
			c.level = ltype.LogSeverity(v)
		} else if n, err := strconv.Atoi(c.value); err == nil {
			c.level = ltype.LogSeverity(n)
		} else {
			return status.Errorf(codes.InvalidArgument, "Invalid severity %q in filter.", c.value)
		}
	case c.field == "logName", c.field == "resource.type", c.field == "textPayload", c.field == "insertId", c.field == "trace":
	case strings.HasPrefix(c.field, "labels.") && len(c.field) > len("labels."):
	case strings.HasPrefix(c.field, "resource.labels.") && len(c.field) > len("resource.labels."):
	case strings.HasPrefix(c.field, "jsonPayload.") && len(c.field) > len("jsonPayload."):
	default:
		return status.Errorf(codes.InvalidArgument, "Unsupported filter field %q: the emulator supports logName, resource.type, resource.labels.*, labels.*, timestamp, severity, textPayload, insertId, trace and jsonPayload.*.", c.field)
	}
	return nil
}

func (q query) match(e *loggingpb.LogEntry) bool {
	for _, c := range q {
		if !c.match(e) {
			return false
		}
	}
	return true
}

func (c comparison) match(e *loggingpb.LogEntry) bool {
	switch c.field {
	case "timestamp":
		return compare(e.GetTimestamp().AsTime().Compare(c.when), c.op)
	case "severity":
		return compare(cmpInt(int(e.GetSeverity()), int(c.level)), c.op)
	}
	got, ok := field(e, c.field)
	if !ok {
		// A missing field matches nothing, except "is not equal to".
		return c.op == "!="
	}
	if c.op == ":" {
		return strings.Contains(got, c.value)
	}
	return compare(strings.Compare(got, c.value), c.op)
}

// field returns a string field of e by its query path.
func field(e *loggingpb.LogEntry, path string) (string, bool) {
	switch path {
	case "logName":
		return e.GetLogName(), true
	case "resource.type":
		return e.GetResource().GetType(), true
	case "textPayload":
		_, ok := e.GetPayload().(*loggingpb.LogEntry_TextPayload)
		return e.GetTextPayload(), ok
	case "insertId":
		return e.GetInsertId(), true
	case "trace":
		return e.GetTrace(), e.GetTrace() != ""
	}
	if k, ok := strings.CutPrefix(path, "resource.labels."); ok {
		v, ok := e.GetResource().GetLabels()[k]
		return v, ok
	}
	if k, ok := strings.CutPrefix(path, "labels."); ok {
		v, ok := e.GetLabels()[unquote(k)]
		return v, ok
	}
	if k, ok := strings.CutPrefix(path, "jsonPayload."); ok {
		return jsonField(e.GetJsonPayload(), strings.Split(k, "."))
	}
	return "", false
}

// jsonField walks a struct payload and renders a scalar leaf as the query
// language compares it.
func jsonField(st *structpb.Struct, path []string) (string, bool) {
	v, ok := st.GetFields()[path[0]]
	if !ok {
		return "", false
	}
	if len(path) > 1 {
		return jsonField(v.GetStructValue(), path[1:])
	}
	switch x := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return x.StringValue, true
	case *structpb.Value_NumberValue:
		return strconv.FormatFloat(x.NumberValue, 'f', -1, 64), true
	case *structpb.Value_BoolValue:
		return fmt.Sprint(x.BoolValue), true
	}
	return "", false
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare turns a three-way comparison result into the operator's verdict.
func compare(r int, op string) bool {
	switch op {
	case "=", ":":
		return r == 0
	case "!=":
		return r != 0
	case ">":
		return r > 0
	case "<":
		return r < 0
	case ">=":
		return r >= 0
	case "<=":
		return r <= 0
	}
	return false
}

// lex splits a query into field paths, operators, parentheses and quoted
// strings (kept quoted so unquote can tell them from bare words).
func lex(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, status.Errorf(codes.InvalidArgument, "Invalid filter %q: unterminated string.", s)
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		case c == '(' || c == ')' || c == ':':
			toks = append(toks, string(c))
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, s[i:i+2])
				i += 2
			} else if c == '!' {
				return nil, status.Errorf(codes.InvalidArgument, "Invalid filter %q: stray '!'.", s)
			} else {
				toks = append(toks, string(c))
				i++
			}
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r\"():=!<>", rune(s[j])) {
				j++
			}
			// A quoted segment inside a path, as in labels."k8s.io/x".
			for j < len(s) && s[j] == '"' && j > i && s[j-1] == '.' {
				k := strings.IndexByte(s[j+1:], '"')
				if k < 0 {
					return nil, status.Errorf(codes.InvalidArgument, "Invalid filter %q: unterminated string.", s)
				}
				j += k + 2
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// unquote strips the quotes of a string token and undoes \" escapes.
func unquote(tok string) string {
	if len(tok) >= 2 && tok[0] == '"' && tok[len(tok)-1] == '"' {
		return strings.ReplaceAll(tok[1:len(tok)-1], `\"`, `"`)
	}
	return tok
}
