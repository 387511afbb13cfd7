package logging

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Extractor is a parsed extractor expression, the syntax of logs-based
// metrics' value and label extractors that log-match alert conditions
// reuse: EXTRACT(field) or REGEXP_EXTRACT(field, "re2 with one group")
// (https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.metrics#LogMetric.FIELDS.value_extractor).
type Extractor struct {
	f  field
	re *regexp.Regexp
}

// ParseExtractor parses an extractor expression; anything else, a field
// LogEntry does not define, or a regular expression without exactly one
// capture group is INVALID_ARGUMENT.
func ParseExtractor(expr string) (Extractor, error) {
	bad := func(format string, args ...any) (Extractor, error) {
		return Extractor{}, status.Errorf(codes.InvalidArgument, "Invalid extractor %q: %s", clip(expr), fmt.Sprintf(format, args...))
	}
	toks, err := lex(expr)
	if err != nil {
		return Extractor{}, err
	}
	kinds := func(ks ...tokKind) bool {
		if len(toks) != len(ks) {
			return false
		}
		for i, k := range ks {
			if toks[i].kind != k {
				return false
			}
		}
		return true
	}
	var x Extractor
	switch {
	case kinds(tWord, tLParen, tWord, tRParen) && toks[0].text == "EXTRACT":
	case kinds(tWord, tLParen, tWord, tComma, tString, tRParen) && toks[0].text == "REGEXP_EXTRACT":
		re, err := regexp.Compile(toks[4].text)
		if err != nil {
			return bad("%v", err)
		}
		if re.NumSubexp() != 1 {
			return bad("the regular expression has %d capture groups, it needs exactly one", re.NumSubexp())
		}
		x.re = re
	default:
		return bad("want EXTRACT(field) or REGEXP_EXTRACT(field, \"regex\")")
	}
	f, err := lookupField(toks[2].text)
	if err != nil {
		return bad("%v", err)
	}
	x.f = f
	return x, nil
}

// Extract returns the value the expression extracts from e: the field's
// value as a string (the regular expression's group, with REGEXP_EXTRACT),
// and false when the entry has no such field or the expression does not
// match.
func (x Extractor) Extract(e *loggingpb.LogEntry) (string, bool) {
	vals, present := x.f.values(entryDoc(e))
	if !present || len(vals) == 0 {
		return "", false
	}
	var s string
	switch v := vals[0].(type) {
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	if x.re == nil {
		return s, true
	}
	m := x.re.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}
