package logging

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	// The AuditLog type must be known for protoPayload to render as JSON.
	_ "google.golang.org/genproto/googleapis/cloud/audit"
)

// doc is a LogEntry as the query language sees it: its JSON form, with
// the field names Logging uses (protojson).
type doc map[string]any

// entryJSON renders an entry as Logging does. A protoPayload of a type
// the emulator does not know keeps only its @type.
func entryJSON(e *loggingpb.LogEntry) []byte {
	b, err := protojson.Marshal(e)
	if err == nil {
		return b
	}
	c := proto.Clone(e).(*loggingpb.LogEntry)
	url := c.GetProtoPayload().GetTypeUrl()
	c.Payload = nil
	b, _ = protojson.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["protoPayload"] = map[string]any{"@type": url}
	b, _ = json.Marshal(m)
	return b
}

// jsonDoc is the doc of an entry by way of its JSON: the definition
// entryDoc follows.
func jsonDoc(e *loggingpb.LogEntry) doc {
	var d doc
	_ = json.Unmarshal(entryJSON(e), &d)
	return d
}

// node is one parsed piece of a query.
type node interface{ eval(d doc) bool }

type andNode []node
type orNode []node
type notNode struct{ n node }

// AND and OR short-circuit, as the reference says.
func (a andNode) eval(d doc) bool {
	for _, n := range a {
		if !n.eval(d) {
			return false
		}
	}
	return true
}

func (o orNode) eval(d doc) bool {
	for _, n := range o {
		if n.eval(d) {
			return true
		}
	}
	return false
}

func (n notNode) eval(d doc) bool { return !n.n.eval(d) }

// kind is what a field holds, which decides how values compare.
type kind int

const (
	kOpen     kind = iota // payload or label: type known only per entry
	kString               // string field of LogEntry
	kNumber               // numeric field of LogEntry
	kBool                 // bool field of LogEntry
	kSeverity             // severity: ordered by level
	kTime                 // Timestamp: RFC 3339
	kDuration             // Duration: "1.5s"
	kObject               // message or map: only ":" looks inside
)

// field is a resolved field path.
type field struct {
	path []string // JSON names
	kind kind
	// defaulted fields are defined by LogEntry: an entry without one
	// compares as if it held the zero value. Payload and label fields are
	// missing instead, and every comparison with them fails.
	defaulted bool
}

var entryDesc = (&loggingpb.LogEntry{}).ProtoReflect().Descriptor()

// lookupField resolves a path against the LogEntry type. A path that
// names nothing LogEntry defines (thud, textPayload.thud) is an error
// before any entry is read, as the reference says.
func lookupField(w string) (field, error) {
	segs := splitPath(w)
	f := field{}
	md := entryDesc
	for i, s := range segs {
		if s == "" {
			return field{}, fmt.Errorf("empty segment in field path %q", w)
		}
		if md == nil {
			return field{}, fmt.Errorf("field %q is not defined in LogEntry", w)
		}
		fd := md.Fields().ByJSONName(s)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(s))
		}
		if fd == nil {
			return field{}, fmt.Errorf("field %q is not defined in LogEntry: %q has no field %q", w, md.Name(), s)
		}
		f.path = append(f.path, fd.JSONName())
		rest := segs[i+1:]
		switch {
		case fd.IsMap():
			switch len(rest) {
			case 0:
				f.kind = kObject
			case 1:
				f.path, f.kind = append(f.path, rest[0]), kOpen
			default:
				return field{}, fmt.Errorf("field %q is not defined in LogEntry: %s values are strings", w, fd.JSONName())
			}
			return f, nil
		case fd.Message() != nil:
			switch fd.Message().FullName() {
			case "google.protobuf.Struct", "google.protobuf.Any":
				f.path, f.kind = append(f.path, rest...), kOpen
				if len(rest) == 0 {
					f.kind = kObject
				}
				return f, nil
			case "google.protobuf.Timestamp", "google.protobuf.Duration":
				if len(rest) > 0 {
					return field{}, fmt.Errorf("field %q is not defined in LogEntry: %s is a scalar", w, fd.JSONName())
				}
				f.kind, f.defaulted = kTime, false
				if fd.Message().FullName() == "google.protobuf.Duration" {
					f.kind = kDuration
				}
				return f, nil
			}
			md = fd.Message()
			f.kind = kObject
			continue
		}
		if len(rest) > 0 {
			return field{}, fmt.Errorf("field %q is not defined in LogEntry: %s is a scalar", w, fd.JSONName())
		}
		f.defaulted = true
		switch fd.Kind() {
		case protoreflect.EnumKind:
			f.kind = kSeverity
		case protoreflect.BoolKind:
			f.kind = kBool
		case protoreflect.StringKind, protoreflect.BytesKind:
			f.kind = kString
		default:
			f.kind = kNumber
		}
		return f, nil
	}
	return f, nil
}

// values returns the field's values in d: several when the path crosses
// an array (a comparison matches if any of them does). present is false
// when the entry does not hold the field.
func (f field) values(d doc) (vals []any, present bool) {
	cur := []any{map[string]any(d)}
	for _, s := range f.path {
		var next []any
		for _, c := range cur {
			next = appendChild(next, c, s)
		}
		cur = next
	}
	var out []any
	for _, v := range cur {
		if a, ok := v.([]any); ok {
			out = append(out, a...)
		} else {
			out = append(out, v)
		}
	}
	if len(out) > 0 {
		return out, true
	}
	if f.defaulted {
		switch f.kind {
		case kString:
			return []any{""}, false
		case kNumber:
			return []any{float64(0)}, false
		case kBool:
			return []any{false}, false
		case kSeverity:
			return []any{"DEFAULT"}, false
		}
	}
	return nil, false
}

func appendChild(out []any, v any, key string) []any {
	switch x := v.(type) {
	case map[string]any:
		if c, ok := x[key]; ok {
			out = append(out, c)
		}
	case []any:
		for _, e := range x {
			out = appendChild(out, e, key)
		}
	}
	return out
}

// comparison is FIELD OP VALUE.
type comparison struct {
	f     field
	op    string
	value string // lower case for string comparisons
	re    *regexp.Regexp
	num   float64
	isNum bool
	when  time.Time
	dur   time.Duration
	level int32
}

func newComparison(f field, op, value string, bare bool) (node, error) {
	if op == ":" && bare && value == "*" {
		return presence{f}, nil
	}
	c := &comparison{f: f, op: op, value: strings.ToLower(value)}
	if op == "=~" || op == "!~" {
		re, err := regexp.Compile(value)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression %q: %w", value, err)
		}
		c.re = re
		return c, nil
	}
	if op == ":" {
		return c, nil
	}
	if n, err := strconv.ParseFloat(value, 64); err == nil && !math.IsNaN(n) {
		c.num, c.isNum = n, true
	}
	switch f.kind {
	case kSeverity:
		l, ok := severityLevel(value)
		if !ok {
			return nil, fmt.Errorf("invalid severity %q: use a LogSeverity name such as ERROR, or its number", value)
		}
		c.level = l
	case kTime:
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return nil, fmt.Errorf("invalid timestamp %q: use RFC 3339, such as \"2024-05-01T10:00:00Z\"", value)
		}
		c.when = t
	case kDuration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q: use a number of seconds with the unit s, such as \"1.5s\"", value)
		}
		c.dur = d
	case kNumber:
		if !c.isNum {
			return nil, fmt.Errorf("field %s is numeric, %q is not a number", strings.Join(f.path, "."), value)
		}
	case kBool:
		if c.value != "true" && c.value != "false" {
			return nil, fmt.Errorf("field %s is a boolean, %q is neither true nor false", strings.Join(f.path, "."), value)
		}
	case kObject:
		return nil, fmt.Errorf("field %s is an object: compare one of its fields, or use ':' to search it", strings.Join(f.path, "."))
	}
	return c, nil
}

func severityLevel(s string) (int32, bool) {
	if v, ok := ltype.LogSeverity_value[strings.ToUpper(s)]; ok {
		return v, true
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int32(n), true
	}
	return 0, false
}

// eval: a missing field fails every comparison; otherwise any value of
// the field may satisfy it.
func (c *comparison) eval(d doc) bool {
	vals, _ := c.f.values(d)
	for _, v := range vals {
		if c.one(v) {
			return true
		}
	}
	return false
}

func (c *comparison) one(v any) bool {
	switch c.op {
	case ":":
		return has(v, c.value)
	case "=~", "!~":
		s, ok := scalarString(v)
		if !ok {
			return false
		}
		return c.re.MatchString(s) == (c.op == "=~")
	}
	r, ok := c.order(v)
	if !ok {
		return false
	}
	switch c.op {
	case "=":
		return r == 0
	case "!=":
		return r != 0
	case "<":
		return r < 0
	case "<=":
		return r <= 0
	case ">":
		return r > 0
	case ">=":
		return r >= 0
	}
	return false
}

// order compares the entry's value with the query's: numbers and levels
// numerically, times and durations by time, everything else as strings,
// ignoring case.
func (c *comparison) order(v any) (int, bool) {
	switch c.f.kind {
	case kSeverity:
		s, _ := v.(string)
		l, ok := severityLevel(s)
		return cmp3(float64(l), float64(c.level)), ok
	case kTime:
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.Compare(c.when), err == nil
	case kDuration:
		s, _ := v.(string)
		d, err := time.ParseDuration(s)
		return cmp3(float64(d), float64(c.dur)), err == nil
	}
	if c.isNum {
		switch x := v.(type) {
		case float64:
			return cmp3(x, c.num), true
		case string:
			// protojson writes 64-bit integers as strings.
			if n, err := strconv.ParseFloat(x, 64); err == nil {
				return cmp3(n, c.num), true
			}
		}
	}
	s, ok := scalarString(v)
	if !ok {
		return 0, false
	}
	return strings.Compare(strings.ToLower(s), c.value), true
}

func cmp3(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scalarString renders a JSON scalar as the query language compares it.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// has is the ":" operator: a substring of a scalar, ignoring case, or of
// any value inside an object or array.
func has(v any, lower string) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			if has(c, lower) {
				return true
			}
		}
		return false
	case []any:
		for _, c := range x {
			if has(c, lower) {
				return true
			}
		}
		return false
	}
	s, ok := scalarString(v)
	return ok && strings.Contains(strings.ToLower(s), lower)
}

// presence is FIELD:* — the field is explicitly in the entry.
type presence struct{ f field }

func (p presence) eval(d doc) bool {
	_, ok := p.f.values(d)
	return ok
}

// globalNode is a bare value: some field of the entry has it.
type globalNode struct{ lower string }

func (g globalNode) eval(d doc) bool { return has(map[string]any(d), g.lower) }

// newFunction builds the functions of the reference the emulator models.
// Others are refused by name rather than guessed at.
func newFunction(name string, args []token) (node, error) {
	switch name {
	case "log_id":
		if len(args) != 1 {
			return nil, fmt.Errorf("log_id takes one argument, the log ID")
		}
		return logIDNode{strings.ToLower(args[0].text)}, nil
	case "sample":
		if len(args) != 2 {
			return nil, fmt.Errorf("sample takes two arguments: a field and a fraction")
		}
		f, err := lookupField(args[0].text)
		if err != nil {
			return nil, err
		}
		frac, err := strconv.ParseFloat(args[1].text, 64)
		if err != nil || frac < 0 || frac > 1 {
			return nil, fmt.Errorf("sample fraction %q must be a number from 0 to 1", args[1].text)
		}
		return sampleNode{f, frac}, nil
	case "ip_in_net":
		if len(args) != 2 {
			return nil, fmt.Errorf("ip_in_net takes two arguments: a field and a network in CIDR notation")
		}
		f, err := lookupField(args[0].text)
		if err != nil {
			return nil, err
		}
		pfx, err := netip.ParsePrefix(args[1].text)
		if err != nil {
			return nil, fmt.Errorf("ip_in_net network %q: %w", args[1].text, err)
		}
		return ipNode{f, pfx.Masked()}, nil
	}
	return nil, fmt.Errorf("function %s is not supported by the emulator (it models log_id, sample and ip_in_net)", name)
}

// logIDNode is log_id("ID"): the entry's LOG_ID, URL-decoded, is ID.
type logIDNode struct{ id string }

func (l logIDNode) eval(d doc) bool {
	name, _ := d["logName"].(string)
	_, enc, ok := strings.Cut(name, "/logs/")
	if !ok {
		return false
	}
	id, err := url.PathUnescape(enc)
	return err == nil && strings.ToLower(id) == l.id
}

// sampleNode is sample(FIELD, FRACTION): a stable pseudo-random choice of
// about FRACTION of the entries, by a hash of the field.
type sampleNode struct {
	f    field
	frac float64
}

func (s sampleNode) eval(d doc) bool {
	vals, ok := s.f.values(d)
	if !ok || len(vals) == 0 {
		return false
	}
	str, _ := scalarString(vals[0])
	h := fnv.New64a()
	h.Write([]byte(str))
	return float64(h.Sum64()%1_000_000)/1_000_000 < s.frac
}

// ipNode is ip_in_net(FIELD, CIDR).
type ipNode struct {
	f   field
	net netip.Prefix
}

func (n ipNode) eval(d doc) bool {
	vals, _ := n.f.values(d)
	for _, v := range vals {
		s, _ := v.(string)
		if a, err := netip.ParseAddr(s); err == nil && n.net.Contains(a) {
			return true
		}
	}
	return false
}
