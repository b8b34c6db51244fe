package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Type is the filter type of a field; it decides which literals and
// operators a restriction on the field accepts and how values are encoded.
type Type int

const (
	String Type = iota + 1
	Int
	Bool
	Enum
	Date
	Timestamp
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "integer"
	case Bool:
		return "boolean"
	case Enum:
		return "enum"
	case Date:
		return "date"
	case Timestamp:
		return "timestamp"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

const (
	dateMessage      = "provex.type.v1.Date"
	timestampMessage = "google.protobuf.Timestamp"
)

// Field is one documented filterable/orderable field of a resource.
type Field struct {
	Path     string // as written in filters, e.g. "state", "partner.country_code"
	Column   string // SQL column: Path with "." replaced by "_"
	Type     Type
	Repeated bool                        // values live in a side table; only ':' applies
	Enum     protoreflect.EnumDescriptor // set when Type == Enum

	chain []protoreflect.FieldDescriptor // from the root message to the leaf
	// through is 1 + the index in the path of the repeated message field
	// it goes through ("foreign_parties" of "foreign_parties.subdivision"),
	// 0 when none. Such a field is Repeated: its values are the leaf's set
	// values in each element.
	through int
}

// Schema is the set of documented fields of one resource message.
type Schema struct {
	md     protoreflect.MessageDescriptor
	fields []Field
	byPath map[string]int
}

// NewSchema builds a schema from the message descriptor and dotted paths.
// A path may walk through singular message fields; its leaf must be a string,
// integer, bool, enum, provex.type.v1.Date or google.protobuf.Timestamp field,
// or a repeated string or enum field. A path may also go through one
// repeated message field to a singular string or enum leaf
// ("foreign_parties.subdivision"): it is then a repeated field whose
// elements are the leaf's set values in every element of the list, so that
// a record's parts are filterable without a copy of them in another field.
func NewSchema(md protoreflect.MessageDescriptor, paths ...string) (*Schema, error) {
	s := &Schema{md: md, byPath: make(map[string]int, len(paths))}
	columns := make(map[string]string, len(paths))
	for _, path := range paths {
		f, err := newField(md, path)
		if err != nil {
			return nil, err
		}
		if _, dup := s.byPath[path]; dup {
			return nil, fmt.Errorf("filter: %s: path %q listed twice", md.FullName(), path)
		}
		// Paths such as "a.b_c" and "a_b.c" would share a column and silently
		// read each other's values.
		if other, dup := columns[f.Column]; dup {
			return nil, fmt.Errorf("filter: %s: paths %q and %q both map to column %q", md.FullName(), other, path, f.Column)
		}
		columns[f.Column] = path
		s.byPath[path] = len(s.fields)
		s.fields = append(s.fields, f)
	}
	return s, nil
}

// MustSchema is like NewSchema but panics on error; it is meant for
// package-level schemas whose paths are fixed at compile time.
func MustSchema(md protoreflect.MessageDescriptor, paths ...string) *Schema {
	s, err := NewSchema(md, paths...)
	if err != nil {
		panic(err)
	}
	return s
}

func newField(md protoreflect.MessageDescriptor, path string) (Field, error) {
	fail := func(format string, args ...any) (Field, error) {
		return Field{}, fmt.Errorf("filter: %s: path %q: %s", md.FullName(), path, fmt.Sprintf(format, args...))
	}
	if path == "" {
		return fail("empty path")
	}
	names := strings.Split(path, ".")
	f := Field{Path: path, Column: strings.ReplaceAll(path, ".", "_")}
	cur := md
	for i, name := range names {
		fd := cur.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return fail("%s has no field %q", cur.FullName(), name)
		}
		f.chain = append(f.chain, fd)
		if i == len(names)-1 {
			break
		}
		if fd.Message() == nil {
			return fail("%q is not a message field", name)
		}
		if fd.Cardinality() == protoreflect.Repeated {
			if fd.IsMap() || f.through > 0 {
				return fail("%q is repeated; a path may go through one repeated message field, not a map or a second list", name)
			}
			f.through = i + 1
		}
		cur = fd.Message()
	}
	leaf := f.chain[len(f.chain)-1]
	if leaf.IsMap() {
		return fail("map fields are not filterable")
	}
	f.Repeated = leaf.Cardinality() == protoreflect.Repeated
	if f.through > 0 {
		if f.Repeated {
			return fail("%q is repeated; only the last field of a path may be repeated", leaf.Name())
		}
		if leaf.Kind() != protoreflect.StringKind && leaf.Kind() != protoreflect.EnumKind {
			return fail("only string and enum fields are filterable through the repeated field %q", f.chain[f.through-1].Name())
		}
		f.Repeated = true
	}
	switch leaf.Kind() {
	case protoreflect.StringKind:
		f.Type = String
	case protoreflect.EnumKind:
		f.Type = Enum
		f.Enum = leaf.Enum()
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		f.Type = Int
	case protoreflect.BoolKind:
		f.Type = Bool
	case protoreflect.MessageKind:
		switch leaf.Message().FullName() {
		case dateMessage:
			f.Type = Date
		case timestampMessage:
			f.Type = Timestamp
		default:
			return fail("message %s is not filterable", leaf.Message().FullName())
		}
	default:
		return fail("%s fields are not filterable", leaf.Kind())
	}
	if f.Repeated && f.Type != String && f.Type != Enum {
		return fail("only repeated string and enum fields are filterable")
	}
	return f, nil
}

// Fields returns the schema's fields in the order their paths were given.
func (s *Schema) Fields() []Field {
	return append([]Field(nil), s.fields...)
}

// Lookup returns the field with the given path.
func (s *Schema) Lookup(path string) (Field, bool) {
	i, ok := s.byPath[path]
	if !ok {
		return Field{}, false
	}
	return s.fields[i], true
}

// Values returns the encoded column values of the field in m: exactly one
// for a non-repeated field (the zero encoding when the field or an enclosing
// message is unset), one per element for a repeated field.
func (f Field) Values(m protoreflect.Message) []any {
	if f.through > 0 {
		return f.throughValues(m)
	}
	for _, fd := range f.chain[:len(f.chain)-1] {
		if !m.Has(fd) {
			return f.zero()
		}
		m = m.Get(fd).Message()
	}
	leaf := f.chain[len(f.chain)-1]
	if f.Repeated {
		list := m.Get(leaf).List()
		out := make([]any, list.Len())
		for i := range out {
			v := list.Get(i)
			if f.Type == Enum {
				out[i] = enumName(f.Enum, v.Enum())
			} else {
				out[i] = v.String()
			}
		}
		return out
	}
	switch f.Type {
	case Date:
		if !m.Has(leaf) {
			return []any{int64(0)}
		}
		d := m.Get(leaf).Message()
		return []any{encodeDate(intField(d, "year"), intField(d, "month"), intField(d, "day"))}
	case Timestamp:
		if !m.Has(leaf) {
			return []any{int64(0)}
		}
		ts := m.Get(leaf).Message()
		return []any{unixNanos(intField(ts, "seconds"), intField(ts, "nanos"))}
	}
	return []any{encodeScalar(f.Type, m.Get(leaf))}
}

// throughValues returns the set leaf values of a path through a repeated
// message field, one per element that has one: an element without the
// leaf (a party recorded before it existed) adds nothing, so "field:*"
// means some element has it.
func (f Field) throughValues(m protoreflect.Message) []any {
	var out []any
	var walk func(m protoreflect.Message, chain []protoreflect.FieldDescriptor)
	walk = func(m protoreflect.Message, chain []protoreflect.FieldDescriptor) {
		fd := chain[0]
		if !m.Has(fd) {
			return
		}
		if len(chain) == 1 {
			if f.Type == Enum {
				out = append(out, enumName(f.Enum, m.Get(fd).Enum()))
			} else {
				out = append(out, m.Get(fd).String())
			}
			return
		}
		if fd.IsList() {
			list := m.Get(fd).List()
			for i := range list.Len() {
				walk(list.Get(i).Message(), chain[1:])
			}
			return
		}
		walk(m.Get(fd).Message(), chain[1:])
	}
	walk(m, f.chain)
	return out
}

func (f Field) zero() []any {
	if f.Repeated {
		return nil
	}
	switch f.Type {
	case Date, Timestamp:
		return []any{int64(0)}
	}
	return []any{encodeScalar(f.Type, f.chain[len(f.chain)-1].Default())}
}

func encodeScalar(t Type, v protoreflect.Value) any {
	switch t {
	case String:
		return v.String()
	case Bool:
		if v.Bool() {
			return int64(1)
		}
		return int64(0)
	case Enum:
		return int64(v.Enum())
	}
	switch x := v.Interface().(type) {
	case int32:
		return int64(x)
	case int64:
		return x
	case uint32:
		return int64(x)
	case uint64:
		return int64(x) // wraps above MaxInt64; literals wrap the same way
	}
	panic(fmt.Sprintf("filter: unexpected %T for an integer field", v.Interface()))
}

func intField(m protoreflect.Message, name protoreflect.Name) int64 {
	fd := m.Descriptor().Fields().ByName(name)
	if fd == nil {
		return 0
	}
	switch x := m.Get(fd).Interface().(type) {
	case int32:
		return int64(x)
	case int64:
		return x
	}
	return 0
}

func encodeDate(year, month, day int64) int64 {
	return year*10000 + month*100 + day
}

// unixNanos saturates instead of overflowing so that timestamps outside
// 1678..2262 still sort at the correct end.
func unixNanos(seconds, nanos int64) int64 {
	const nanosPerSecond = int64(1e9)
	switch {
	case seconds > math.MaxInt64/nanosPerSecond:
		return math.MaxInt64
	case seconds < math.MinInt64/nanosPerSecond:
		return math.MinInt64
	}
	r := seconds * nanosPerSecond
	switch {
	case nanos > 0 && r > math.MaxInt64-nanos:
		return math.MaxInt64
	case nanos < 0 && r < math.MinInt64-nanos:
		return math.MinInt64
	}
	return r + nanos
}

func enumName(ed protoreflect.EnumDescriptor, n protoreflect.EnumNumber) string {
	if v := ed.Values().ByNumber(n); v != nil {
		return string(v.Name())
	}
	return strconv.Itoa(int(n))
}

// enumPrefix is the part of the enum's UNSPECIFIED value name that its
// other value names share by convention, e.g. "STATE_" for STATE_UNSPECIFIED.
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	v := ed.Values().ByNumber(0)
	if v == nil {
		return ""
	}
	prefix, ok := strings.CutSuffix(string(v.Name()), "UNSPECIFIED")
	if !ok {
		return ""
	}
	return prefix
}

// paths lists the schema's paths for error messages; orderable drops the
// repeated fields, which order_by cannot use.
func (s *Schema) paths(orderable bool) []string {
	var out []string
	for _, f := range s.fields {
		if orderable && f.Repeated {
			continue
		}
		out = append(out, f.Path)
	}
	return out
}
