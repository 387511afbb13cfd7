package logging

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// rendering is a stored entry's doc, made the first time a sink or an
// entries.list needs it: most entries are read by one sink filter or
// none, and the entry does not change once stored.
type rendering struct {
	once sync.Once
	d    doc
}

// doc returns the entry's doc, rendering it on the first call.
func (r *rendering) doc(e *loggingpb.LogEntry) doc {
	r.once.Do(func() { r.d = entryDoc(e) })
	return r.d
}

// entryDoc is the doc of an entry: what json.Unmarshal makes of
// entryJSON(e). It is built by walking the message (directDoc), which
// costs a fraction of encoding it and decoding the text; an entry that
// walk does not render takes the JSON way, which decides those cases.
func entryDoc(e *loggingpb.LogEntry) doc {
	if d, ok := directDoc(e); ok {
		return d
	}
	return jsonDoc(e)
}

// directDoc renders e as protojson.Marshal and json.Unmarshal into a map
// would: JSON field names, 64-bit integers as strings, other numbers as
// float64, enums by name, bytes in base64, the well-known types in their
// JSON forms, an Any as its message's fields with "@type". ok is false
// for what it leaves to the JSON way: a message protojson refuses (an
// Any of an unknown type, invalid UTF-8, a Timestamp out of range…),
// extensions and FieldMask.
func directDoc(e *loggingpb.LogEntry) (doc, bool) {
	v, ok := messageDoc(e.ProtoReflect())
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return doc(m), ok
}

func messageDoc(m protoreflect.Message) (any, bool) {
	md := m.Descriptor()
	if md.ParentFile().Package() == "google.protobuf" {
		switch md.Name() {
		case "Any":
			return anyDoc(m)
		case "Timestamp":
			return timestampDoc(m)
		case "Duration":
			return durationDoc(m)
		case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
			"FloatValue", "DoubleValue", "StringValue", "BytesValue":
			fd := md.Fields().ByNumber(1)
			return scalarDoc(fd, m.Get(fd))
		case "Struct":
			fd := md.Fields().ByNumber(1)
			return mapDoc(fd, m.Get(fd).Map())
		case "ListValue":
			fd := md.Fields().ByNumber(1)
			return listDoc(fd, m.Get(fd).List())
		case "Value":
			fd := m.WhichOneof(md.Oneofs().ByName("kind"))
			if fd == nil {
				return nil, false
			}
			if f := m.Get(fd); fd.Kind() == protoreflect.DoubleKind && (math.IsNaN(f.Float()) || math.IsInf(f.Float(), 0)) {
				return nil, false
			}
			return scalarDoc(fd, m.Get(fd))
		case "FieldMask":
			return nil, false
		}
	}
	out := make(map[string]any, md.Fields().Len())
	ok := fieldsDoc(m, out)
	return out, ok
}

// fieldsDoc adds m's populated fields to out, by JSON name.
func fieldsDoc(m protoreflect.Message, out map[string]any) bool {
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsExtension() {
			ok = false
			return false
		}
		var x any
		switch {
		case fd.IsList():
			x, ok = listDoc(fd, v.List())
		case fd.IsMap():
			x, ok = mapDoc(fd, v.Map())
		default:
			x, ok = scalarDoc(fd, v)
		}
		out[fd.JSONName()] = x
		return ok
	})
	return ok
}

func listDoc(fd protoreflect.FieldDescriptor, l protoreflect.List) (any, bool) {
	out := make([]any, l.Len())
	for i := range out {
		x, ok := scalarDoc(fd, l.Get(i))
		if !ok {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

func mapDoc(fd protoreflect.FieldDescriptor, m protoreflect.Map) (any, bool) {
	out := make(map[string]any, m.Len())
	ok := true
	m.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		var x any
		if x, ok = scalarDoc(fd.MapValue(), v); ok {
			out[k.String()] = x
		}
		return ok
	})
	return out, ok
}

// scalarDoc renders one value of field fd (one element of a list).
func scalarDoc(fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, bool) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool(), true
	case protoreflect.StringKind:
		s := v.String()
		return s, utf8.ValidString(s)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return float64(v.Int()), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return float64(v.Uint()), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10), true
	case protoreflect.FloatKind:
		return floatDoc(v.Float(), 32), true
	case protoreflect.DoubleKind:
		return floatDoc(v.Float(), 64), true
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes()), true
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return nil, true
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name()), true
		}
		return float64(v.Enum()), true
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageDoc(v.Message())
	}
	return nil, false
}

// floatDoc is a float as protojson writes it and encoding/json reads it
// back: NaN and the infinities as strings, a 32-bit float as the float64
// of its shortest decimal form.
func floatDoc(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case bits == 32:
		f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
	}
	return f
}

// anyDoc is an Any as protojson writes it: its message's fields and
// "@type", or "@type" and "value" for a well-known type of its own JSON
// form; {} when empty.
func anyDoc(m protoreflect.Message) (any, bool) {
	fds := m.Descriptor().Fields()
	typeFD, valueFD := fds.ByNumber(1), fds.ByNumber(2)
	if !m.Has(typeFD) {
		return map[string]any{}, !m.Has(valueFD)
	}
	url := m.Get(typeFD).String()
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	if err != nil || !utf8.ValidString(url) {
		return nil, false
	}
	em := mt.New()
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(m.Get(valueFD).Bytes(), em.Interface()); err != nil {
		return nil, false
	}
	out := map[string]any{"@type": url}
	if md := em.Descriptor(); md.ParentFile().Package() == "google.protobuf" && md.Name() != "Empty" && isWellKnown(md.Name()) {
		v, ok := messageDoc(em)
		out["value"] = v
		return out, ok
	}
	return out, fieldsDoc(em, out)
}

// isWellKnown names the google.protobuf messages with a JSON form of
// their own.
func isWellKnown(name protoreflect.Name) bool {
	switch name {
	case "Any", "Timestamp", "Duration", "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue", "Struct", "ListValue", "Value", "FieldMask":
		return true
	}
	return false
}

// Bounds protojson puts on Timestamp and Duration.
const (
	minTimestampSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestampSeconds = 253402300799 // 9999-12-31T23:59:59Z
	maxDurationSeconds  = 315576000000
	maxNanos            = 999999999
)

// timestampDoc is RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits.
func timestampDoc(m protoreflect.Message) (any, bool) {
	secs, nanos := secondsNanos(m)
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > maxNanos {
		return nil, false
	}
	return trimNanos(time.Unix(secs, nanos).UTC().Format("2006-01-02T15:04:05.000000000")) + "Z", true
}

// durationDoc is seconds with 0, 3, 6 or 9 fractional digits and "s".
func durationDoc(m protoreflect.Message) (any, bool) {
	secs, nanos := secondsNanos(m)
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos < -maxNanos || nanos > maxNanos ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return nil, false
	}
	sign := ""
	if secs < 0 || nanos < 0 {
		sign, secs, nanos = "-", -secs, -nanos
	}
	return trimNanos(fmt.Sprintf("%s%d.%09d", sign, secs, nanos)) + "s", true
}

func secondsNanos(m protoreflect.Message) (int64, int64) {
	fds := m.Descriptor().Fields()
	return m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
}

func trimNanos(x string) string {
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	return strings.TrimSuffix(x, ".000")
}
