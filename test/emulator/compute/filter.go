package compute

import (
	"encoding/json"
	"path"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// filter is a parsed list filter in the syntax the Compute list methods
// accept: comparisons such as `labels.env = prod`, `labels.quarantine:*`,
// `name != web-1` or `name eq 'web-.*'`, joined by AND (or juxtaposition),
// OR and NOT, with parentheses. A nil filter matches everything.
type filter interface {
	eval(doc map[string]any) bool
}

// matchDoc reports whether m passes f. The resource is compared through its
// JSON form, so field paths are the API's camelCase names.
func matchDoc(f filter, m proto.Message) (bool, error) {
	if f == nil {
		return true, nil
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		return false, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return false, err
	}
	return f.eval(doc), nil
}

// listFilter wraps a parsed filter so callers can ask it to match.
type listFilter struct{ f filter }

// match reports whether m passes the filter.
func (l listFilter) match(m proto.Message) (bool, error) { return matchDoc(l.f, m) }

// parseFilter parses the filter query parameter; errors are the API's 400.
func parseFilter(src string) (listFilter, error) {
	if strings.TrimSpace(src) == "" {
		return listFilter{}, nil
	}
	p := &filterParser{toks: tokenize(src)}
	f, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = errFilter(src)
	}
	if err != nil {
		return listFilter{}, errFilter(src)
	}
	return listFilter{f}, nil
}

func errFilter(src string) *apiError {
	return errInvalidField("filter", src, "Invalid list filter expression.")
}

// token is one lexical element of a filter: kind is "(", ")", "op",
// "str" (quoted) or "word".
type token struct {
	kind, text string
}

// tokenize splits a filter into tokens; it never fails, the parser does.
func tokenize(src string) []token {
	var toks []token
	for i := 0; i < len(src); {
		ch := src[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			i++
		case ch == '(' || ch == ')':
			toks = append(toks, token{string(ch), string(ch)})
			i++
		case ch == '"' || ch == '\'':
			j := strings.IndexByte(src[i+1:], ch)
			if j < 0 {
				j = len(src) - i - 1
			}
			toks = append(toks, token{"str", src[i+1 : i+1+j]})
			i += j + 2
		case strings.HasPrefix(src[i:], "!=") || strings.HasPrefix(src[i:], ">=") || strings.HasPrefix(src[i:], "<="):
			toks = append(toks, token{"op", src[i : i+2]})
			i += 2
		case ch == '=' || ch == ':' || ch == '<' || ch == '>':
			toks = append(toks, token{"op", string(ch)})
			i++
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\n()\"'=:<>!", rune(src[j])) {
				j++
			}
			if j == i {
				j++
			}
			toks = append(toks, token{"word", src[i:j]})
			i = j
		}
	}
	return toks
}

// filterParser is a recursive-descent parser over tokens.
type filterParser struct {
	toks []token
	pos  int
}

func (p *filterParser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *filterParser) or() (filter, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind != "word" || t.text != "OR" {
			return left, nil
		}
		p.pos++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = orFilter{left, right}
	}
}

func (p *filterParser) and() (filter, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind == ")" || (t.kind == "word" && t.text == "OR") {
			return left, nil
		}
		if t.kind == "word" && t.text == "AND" {
			p.pos++
		}
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = andFilter{left, right}
	}
}

func (p *filterParser) unary() (filter, error) {
	t, ok := p.peek()
	if !ok {
		return nil, errFilter("")
	}
	if t.kind == "word" && (t.text == "NOT" || t.text == "-") {
		p.pos++
		f, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notFilter{f}, nil
	}
	if t.kind == "(" {
		p.pos++
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.kind != ")" {
			return nil, errFilter("")
		}
		p.pos++
		return f, nil
	}
	return p.term()
}

func (p *filterParser) term() (filter, error) {
	if p.pos+3 > len(p.toks) {
		return nil, errFilter("")
	}
	field, op, val := p.toks[p.pos], p.toks[p.pos+1], p.toks[p.pos+2]
	if field.kind != "word" || (val.kind != "word" && val.kind != "str") {
		return nil, errFilter("")
	}
	opText := op.text
	if op.kind == "word" && (op.text == "eq" || op.text == "ne") {
		opText = op.text
	} else if op.kind != "op" {
		return nil, errFilter("")
	}
	p.pos += 3
	c := cmpFilter{path: strings.Split(field.text, "."), op: opText, value: val.text}
	if opText == "eq" || opText == "ne" {
		re, err := regexp.Compile("^(?:" + val.text + ")$")
		if err != nil {
			return nil, errFilter("")
		}
		c.re = re
	}
	return c, nil
}

type andFilter struct{ a, b filter }

func (f andFilter) eval(d map[string]any) bool { return f.a.eval(d) && f.b.eval(d) }

type orFilter struct{ a, b filter }

func (f orFilter) eval(d map[string]any) bool { return f.a.eval(d) || f.b.eval(d) }

type notFilter struct{ f filter }

func (f notFilter) eval(d map[string]any) bool { return !f.f.eval(d) }

// cmpFilter is one comparison of a field with a literal.
type cmpFilter struct {
	path  []string
	op    string
	value string
	re    *regexp.Regexp
}

// eval resolves the field and compares; a repeated field matches when any
// element does, as on the real API.
func (f cmpFilter) eval(d map[string]any) bool {
	var v any = d
	for _, seg := range f.path {
		m, ok := v.(map[string]any)
		if !ok {
			v = nil
			break
		}
		v = m[seg]
	}
	switch f.op {
	case "!=", "ne":
		return !f.hit(v)
	}
	return f.hit(v)
}

// hit reports whether v satisfies the positive form of the comparison.
func (f cmpFilter) hit(v any) bool {
	if v == nil {
		return false
	}
	if list, ok := v.([]any); ok {
		for _, e := range list {
			if f.hit(e) {
				return true
			}
		}
		return false
	}
	if f.op == ":" && f.value == "*" {
		return true
	}
	s := scalar(v)
	switch f.op {
	case "=", "!=", ":":
		if strings.Contains(f.value, "*") {
			ok, _ := path.Match(f.value, s)
			return ok
		}
		return s == f.value
	case "eq", "ne":
		return f.re.MatchString(s)
	case "<", ">", "<=", ">=":
		a, errA := strconv.ParseFloat(s, 64)
		b, errB := strconv.ParseFloat(f.value, 64)
		var c int
		if errA == nil && errB == nil {
			c = map[bool]int{true: -1, false: 0}[a < b] + map[bool]int{true: 1, false: 0}[a > b]
		} else {
			c = strings.Compare(s, f.value)
		}
		switch f.op {
		case "<":
			return c < 0
		case ">":
			return c > 0
		case "<=":
			return c <= 0
		default:
			return c >= 0
		}
	}
	return false
}

// scalar renders a JSON value the way a filter literal spells it.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
