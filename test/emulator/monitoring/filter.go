package monitoring

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// term is one comparison of the monitoring filter language:
// `field = "value"`, `field != "value"`, `field : "substring"` or
// `field = starts_with("prefix")`.
type term struct {
	field, op, value string
	prefix           bool
}

// filter is a conjunction of terms; the fake does not support OR, NOT or
// parentheses, which coopguard does not need.
type filter []term

// parseFilter parses s, accepting only the fields that known reports as
// supported so that a typo fails loudly instead of matching nothing.
func parseFilter(s string, known func(field string) bool) (filter, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	var f filter
	for i := 0; i < len(toks); {
		if len(f) > 0 {
			if toks[i] != "AND" {
				return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter %q: only terms joined by AND are supported, found %q.", s, toks[i])
			}
			i++
		}
		if i+2 >= len(toks) {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid filter %q: incomplete term.", s)
		}
		t := term{field: toks[i], op: toks[i+1]}
		if !known(t.field) {
			return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter field %q in %q.", t.field, s)
		}
		if t.op != "=" && t.op != "!=" && t.op != ":" {
			return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter operator %q in %q.", t.op, s)
		}
		i += 2
		if toks[i] == "starts_with" {
			if i+3 >= len(toks) || toks[i+1] != "(" || toks[i+3] != ")" {
				return nil, status.Errorf(codes.InvalidArgument, "Invalid filter %q: starts_with takes one quoted string.", s)
			}
			t.value, t.prefix = unquote(toks[i+2]), true
			i += 4
		} else {
			t.value = unquote(toks[i])
			i++
		}
		f = append(f, t)
	}
	return f, nil
}

// match reports whether every term holds; get returns a field's value and
// whether the resource has it at all.
func (f filter) match(get func(field string) (string, bool)) bool {
	for _, t := range f {
		got, ok := get(t.field)
		var hit bool
		switch {
		case t.prefix:
			hit = ok && strings.HasPrefix(got, t.value)
		case t.op == ":":
			hit = ok && strings.Contains(got, t.value)
		default:
			hit = ok && got == t.value
		}
		if t.op == "!=" {
			hit = !hit
		}
		if !hit {
			return false
		}
	}
	return true
}

// tokenize splits a filter into identifiers, operators, parentheses and
// quoted strings (kept with their quotes so unquote can tell them apart).
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
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
		case c == '(' || c == ')' || c == '=' || c == ':':
			toks = append(toks, string(c))
			i++
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			toks = append(toks, "!=")
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\"()=:!", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, status.Errorf(codes.InvalidArgument, "Invalid filter %q at %q.", s, s[i:])
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

// labelField splits "prefix.KEY" and reports whether field has the prefix,
// for label fields such as user_labels.team or metric.labels.window.
func labelField(field, prefix string) (string, bool) {
	key, ok := strings.CutPrefix(field, prefix)
	return key, ok && key != ""
}
