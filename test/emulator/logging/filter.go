package logging

import (
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The Logging query language, as the public reference describes it
// (https://cloud.google.com/logging/docs/view/logging-query-language):
//
//	query      = expression
//	expression = and
//	and        = or { ["AND"] or }            juxtaposition is AND
//	or         = unary { "OR" unary }          OR binds tighter than AND
//	unary      = ("NOT" | "-") unary | primary NOT binds tightest
//	primary    = "(" expression ")" | function | comparison | value
//	comparison = path op (value | "(" value expression ")")
//	op         = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":" | "=~" | "!~"
//
// A bare value is a global restriction: any field has it. Boolean
// operators are upper case; "and" in lower case is just a word. "--"
// starts a comment that runs to the end of the line.
//
// This file parses; eval.go evaluates a parsed query over an entry.

// maxQueryLen is the documented limit on a query's length.
const maxQueryLen = 20000

// maxDepth bounds nesting. The reference states no limit; the emulator
// refuses deeper queries rather than recurse without bound.
const maxDepth = 64

type tokKind int

const (
	tWord   tokKind = iota // field path, bare value, keyword or function name
	tString                // "quoted", unquoted text in tok.text
	tOp                    // comparison operator
	tLParen
	tRParen
	tComma
	tMinus // "-" as NOT
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// invalid is the INVALID_ARGUMENT GCP answers for a query it cannot parse.
func invalid(q string, pos int, format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "Invalid filter %q at position %d: %s", clip(q), pos, fmt.Sprintf(format, args...))
}

// clip keeps error messages short for long queries.
func clip(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}

// isWordByte reports whether c may continue a bare word or field path.
func isWordByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '(', ')', ':', '=', '!', '<', '>', ',':
		return false
	}
	return true
}

// lex splits a query into tokens. A quoted segment right after a dot
// stays part of the word, as in labels."compute.googleapis.com/name".
func lex(q string) ([]token, error) {
	var toks []token
	afterOp := func() bool { return len(toks) > 0 && toks[len(toks)-1].kind == tOp }
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '"':
			s, n, err := readString(q, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, s, i})
			i = n
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == ':':
			toks = append(toks, token{tOp, ":", i})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(q) && (q[i+1] == '=' || (q[i+1] == '~' && (c == '=' || c == '!'))) {
				op = q[i : i+2]
			}
			if op == "!" {
				return nil, invalid(q, i, "'!' must be followed by '=' or '~'; use NOT or '-' to negate")
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		case c == '-' && !afterOp():
			// Minus before a term negates it; after an operator it is
			// the sign of a value, lexed with the word below.
			toks = append(toks, token{tMinus, "-", i})
			i++
		default:
			start := i
			var b strings.Builder
			for i < len(q) {
				if q[i] == '"' && i > start && q[i-1] == '.' {
					s, n, err := readString(q, i)
					if err != nil {
						return nil, err
					}
					b.WriteString(quoteSeg(s))
					i = n
					continue
				}
				if !isWordByte(q[i]) {
					break
				}
				b.WriteByte(q[i])
				i++
			}
			toks = append(toks, token{tWord, b.String(), start})
		}
	}
	return toks, nil
}

// segQuote marks a path segment that was quoted, so splitPath does not
// split it at its dots. It cannot occur in a query (lex would have read
// it as a word byte, but \x00 never reaches a valid path).
const segQuote = "\x00"

func quoteSeg(s string) string { return segQuote + s + segQuote }

// readString reads the quoted string starting at q[i] and returns its
// value and the index after the closing quote. Backslash escapes the
// next character; \n, \t and \r are the control characters.
func readString(q string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '"':
			return b.String(), j + 1, nil
		case '\\':
			j++
			if j >= len(q) {
				return "", 0, invalid(q, i, "unterminated string")
			}
			switch q[j] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(q[j])
			}
		default:
			b.WriteByte(q[j])
		}
	}
	return "", 0, invalid(q, i, "unterminated string")
}

// splitPath splits a field path at dots outside quoted segments.
func splitPath(w string) []string {
	var segs []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(w); i++ {
		switch {
		case w[i] == segQuote[0]:
			quoted = !quoted
		case w[i] == '.' && !quoted:
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(w[i])
		}
	}
	return append(segs, cur.String())
}

// parser is a recursive-descent parser over the tokens of one query.
type parser struct {
	q     string
	toks  []token
	i     int
	depth int
}

// Filter is a parsed query; the zero Filter (empty query) matches every
// entry.
type Filter struct {
	root node
}

// ParseFilter parses a Logging query. Anything it does not understand is
// an INVALID_ARGUMENT status, as the service answers.
func ParseFilter(q string) (Filter, error) {
	if len(q) > maxQueryLen {
		return Filter{}, status.Errorf(codes.InvalidArgument, "Invalid filter: %d characters, the limit is %d.", len(q), maxQueryLen)
	}
	toks, err := lex(q)
	if err != nil {
		return Filter{}, err
	}
	if len(toks) == 0 {
		return Filter{}, nil
	}
	p := &parser{q: q, toks: toks}
	n, err := p.and(p.term)
	if err != nil {
		return Filter{}, err
	}
	if p.i < len(p.toks) {
		return Filter{}, p.errf("unexpected %q", p.toks[p.i].text)
	}
	return Filter{root: n}, nil
}

// Match reports whether the entry (as entryDoc renders it) matches.
func (f Filter) Match(d doc) bool {
	return f.root == nil || f.root.eval(d)
}

// MatchJSON reports whether a LogEntry in its JSON form (as Logging
// exports it, e.g. a public sample) matches, so code outside the
// emulator can prove a filter against real-shaped entries.
func (f Filter) MatchJSON(entry []byte) (bool, error) {
	var d doc
	if err := json.Unmarshal(entry, &d); err != nil {
		return false, fmt.Errorf("log entry JSON: %w", err)
	}
	return f.Match(d), nil
}

func (p *parser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{}, false
}

func (p *parser) errf(format string, args ...any) error {
	pos := len(p.q)
	if t, ok := p.peek(); ok {
		pos = t.pos
	}
	return invalid(p.q, pos, format, args...)
}

func isKeyword(t token, kw string) bool { return t.kind == tWord && t.text == kw }

// startsTerm reports whether t can begin an operand, which makes
// juxtaposition an implicit AND.
func startsTerm(t token) bool {
	switch t.kind {
	case tWord:
		return t.text != "AND" && t.text != "OR"
	case tString, tLParen, tMinus:
		return true
	}
	return false
}

// and parses a conjunction of disjunctions; leaf parses one operand (a
// term of the query, or a value inside a comparison's parentheses).
func (p *parser) and(leaf func() (node, error)) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("nested deeper than %d", maxDepth)
	}
	first, err := p.or(leaf)
	if err != nil {
		return nil, err
	}
	all := andNode{first}
	for {
		t, ok := p.peek()
		if !ok {
			break
		}
		if isKeyword(t, "AND") {
			p.i++
		} else if !startsTerm(t) {
			break
		}
		n, err := p.or(leaf)
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	if len(all) == 1 {
		return first, nil
	}
	return all, nil
}

func (p *parser) or(leaf func() (node, error)) (node, error) {
	first, err := p.unary(leaf)
	if err != nil {
		return nil, err
	}
	alts := orNode{first}
	for {
		t, ok := p.peek()
		if !ok || !isKeyword(t, "OR") {
			break
		}
		p.i++
		n, err := p.unary(leaf)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
	}
	if len(alts) == 1 {
		return first, nil
	}
	return alts, nil
}

func (p *parser) unary(leaf func() (node, error)) (node, error) {
	t, ok := p.peek()
	if !ok {
		return nil, p.errf("expected a term")
	}
	if isKeyword(t, "NOT") || t.kind == tMinus {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errf("nested deeper than %d", maxDepth)
		}
		p.i++
		n, err := p.unary(leaf)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if t.kind == tLParen {
		p.i++
		n, err := p.and(leaf)
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.kind != tRParen {
			return nil, p.errf("missing ')'")
		}
		p.i++
		return n, nil
	}
	return leaf()
}

// term parses a comparison, a function call or a global restriction.
func (p *parser) term() (node, error) {
	t := p.toks[p.i]
	switch t.kind {
	case tString:
		p.i++
		if n, ok := p.peek(); ok && n.kind == tOp {
			return nil, p.errf("a quoted string cannot be a field name; quote only path segments, as in labels.\"a.b\"")
		}
		return globalNode{strings.ToLower(t.text)}, nil
	case tWord:
	default:
		return nil, p.errf("unexpected %q", t.text)
	}
	if t.text == "AND" || t.text == "OR" {
		return nil, p.errf("%s needs a term on each side", t.text)
	}
	p.i++
	next, ok := p.peek()
	if ok && next.kind == tLParen && next.pos == t.pos+len(t.text) {
		return p.call(t)
	}
	if !ok || next.kind != tOp {
		return globalNode{strings.ToLower(t.text)}, nil
	}
	p.i++
	f, err := lookupField(t.text)
	if err != nil {
		return nil, invalid(p.q, t.pos, "%v", err)
	}
	op := next.text
	// The value: one word or string, or a parenthesised expression of
	// values, each compared with the same field and operator.
	leaf := func() (node, error) {
		v, ok := p.peek()
		if !ok || (v.kind != tWord && v.kind != tString) || isKeyword(v, "AND") || isKeyword(v, "OR") || isKeyword(v, "NOT") {
			return nil, p.errf("expected a value after %s%s", t.text, op)
		}
		p.i++
		c, err := newComparison(f, op, v.text, v.kind == tWord)
		if err != nil {
			return nil, invalid(p.q, v.pos, "%v", err)
		}
		return c, nil
	}
	if v, ok := p.peek(); ok && v.kind == tLParen {
		p.i++
		n, err := p.and(leaf)
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.kind != tRParen {
			return nil, p.errf("missing ')'")
		}
		p.i++
		return n, nil
	}
	return leaf()
}

// call parses name(arg, ...) after the name; arguments are words or
// strings.
func (p *parser) call(name token) (node, error) {
	p.i++ // (
	var args []token
	for {
		t, ok := p.peek()
		if !ok {
			return nil, p.errf("missing ')' after the arguments of %s", name.text)
		}
		p.i++
		if t.kind == tRParen && len(args) == 0 {
			break
		}
		if t.kind != tWord && t.kind != tString {
			return nil, invalid(p.q, t.pos, "unexpected %q in the arguments of %s", t.text, name.text)
		}
		args = append(args, t)
		t, ok = p.peek()
		if !ok {
			return nil, p.errf("missing ')' after the arguments of %s", name.text)
		}
		p.i++
		if t.kind == tRParen {
			break
		}
		if t.kind != tComma {
			return nil, invalid(p.q, t.pos, "expected ',' or ')' in the arguments of %s", name.text)
		}
	}
	n, err := newFunction(name.text, args)
	if err != nil {
		return nil, invalid(p.q, name.pos, "%v", err)
	}
	return n, nil
}
