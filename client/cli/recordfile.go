package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// decodeRecord reads the one JSON or YAML document of a record file into
// m, a new message of the record's kind. It reads YAML 1.2 against the
// message's schema, so a text field takes a value as written (the country
// NO, the title yes, an id 2025 stay text; YAML 1.1, which sigs.k8s.io/yaml
// reads, made NO false), and names a value its field cannot take by the
// file's line and the field's proto path. A file of several documents is
// refused: a command writes one record, and the others were dropped.
func decodeRecord(raw []byte, m proto.Message) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("holds no record (the file is empty)")
		}
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := next.Line
		if err != nil {
			line = 0
		}
		return fmt.Errorf("holds more than one record (another document%s): give one record a command", atLine(line))
	}
	if root := resolved(doc.Content[0]); root.Tag == "!!null" {
		return errors.New("holds no record (the document is empty)")
	} else if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want the record's fields (key: value lines, or a JSON object), got %s", root.Line, nodeKind(root))
	}
	budget := maxRecordValues
	if !within(doc.Content[0], &budget) {
		return fmt.Errorf("it holds more than %d values, its aliases (*name) expanded: no record is that large", maxRecordValues)
	}
	v, err := fieldsOf(doc.Content[0], m.ProtoReflect().Descriptor(), "")
	if err != nil {
		return err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		// Values are checked against their fields above; what is left
		// (a time that is not RFC 3339) protojson names by field.
		return errors.New(strings.ReplaceAll(err.Error(), "\u00a0", " "))
	}
	return nil
}

func atLine(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(" at line %d", line)
}

// recordError is a value its field cannot take, placed in the file.
func recordError(n *yaml.Node, path, format string, args ...any) error {
	if path == "" {
		return fmt.Errorf("line %d: %s", n.Line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("line %d: %s: %s", n.Line, path, fmt.Sprintf(format, args...))
}

// fieldsOf is the JSON value of a mapping n holding a message md.
func fieldsOf(n *yaml.Node, md protoreflect.MessageDescriptor, path string) (any, error) {
	n = resolved(n)
	if n.Tag == "!!null" {
		return nil, nil
	}
	if example, ok := wellKnownText[md.FullName()]; ok {
		if n.Kind != yaml.ScalarNode {
			return nil, recordError(n, path, "want text such as %s, got %s", example, nodeKind(n))
		}
		if md.FullName() == "google.protobuf.Timestamp" {
			if _, err := time.Parse(time.RFC3339Nano, n.Value); err != nil {
				return nil, recordError(n, path, "%q is not a time such as %s (RFC 3339, in UTC with Z or with its offset)", n.Value, example)
			}
		}
		return n.Value, nil
	}
	if md.FullName().Parent() == "google.protobuf" {
		// Any, Struct and their kin take JSON as it is.
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, recordError(n, path, "%v", err)
		}
		return v, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, recordError(n, path, "want the fields of a %s (%s), got %s", md.Name(), messageExample(md), nodeKind(n))
	}
	out := make(map[string]any, len(n.Content)/2)
	given := map[protoreflect.Name]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := resolved(n.Content[i]), n.Content[i+1]
		if key.Tag == "!!merge" {
			return nil, recordError(key, path, "merge keys (<<) are not read: write the fields out")
		}
		fd := md.Fields().ByName(protoreflect.Name(key.Value))
		if fd == nil {
			fd = md.Fields().ByJSONName(key.Value)
		}
		if fd == nil {
			return nil, recordError(key, path, "no field %q in %s (its fields: %s)", key.Value, md.Name(), fieldNames(md))
		}
		if first, twice := given[fd.Name()]; twice {
			return nil, recordError(key, path, "%s is given twice (first at line %d)", fd.Name(), first)
		}
		given[fd.Name()] = key.Line
		fp := string(fd.Name())
		if path != "" {
			fp = path + "." + fp
		}
		v, err := fieldValue(val, fd, fp)
		if err != nil {
			return nil, err
		}
		out[string(fd.Name())] = v
	}
	return out, nil
}

// fieldValue is the JSON value of n for field fd.
func fieldValue(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) (any, error) {
	n = resolved(n)
	if n.Tag == "!!null" {
		return nil, nil
	}
	switch {
	case fd.IsMap():
		if n.Kind != yaml.MappingNode {
			return nil, recordError(n, path, "want key: value lines, got %s", nodeKind(n))
		}
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolved(n.Content[i])
			v, err := singleValue(n.Content[i+1], fd.MapValue(), path+"["+k.Value+"]")
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case fd.IsList():
		if n.Kind != yaml.SequenceNode {
			return nil, recordError(n, path, "want a list ([a, b] or lines starting with -), got %s", nodeKind(n))
		}
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			v, err := singleValue(e, fd, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return singleValue(n, fd, path)
}

// singleValue is the JSON value of one value n of field fd (an element of
// a list field, or the field's one value).
func singleValue(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) (any, error) {
	n = resolved(n)
	if n.Tag == "!!null" {
		// A field's own null leaves it unset (fieldValue); a list or map
		// holds no nulls, and ~ is not the text "~".
		return nil, recordError(n, path, "want a value, got null (%q)", n.Value)
	}
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return fieldsOf(n, fd.Message(), path)
	}
	if n.Kind != yaml.ScalarNode {
		return nil, recordError(n, path, "want one value, got %s", nodeKind(n))
	}
	s := n.Value
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return s, nil
	case protoreflect.BoolKind:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, recordError(n, path, "want true or false, got %q", s)
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.Values().ByName(protoreflect.Name(s)) != nil {
			return s, nil
		}
		if i, err := strconv.ParseInt(s, 10, 32); err == nil && ed.Values().ByNumber(protoreflect.EnumNumber(i)) != nil {
			return i, nil
		}
		var names []string
		for i := range ed.Values().Len() {
			if v := ed.Values().Get(i); v.Number() != 0 {
				names = append(names, string(v.Name()))
			}
		}
		return nil, recordError(n, path, "%q is not one of %s", s, strings.Join(names, ", "))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return wholeNumber(n, path, s, math.MinInt32, math.MaxInt32)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return wholeNumber(n, path, s, math.MinInt64, math.MaxInt64)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return wholeNumber(n, path, s, 0, math.MaxUint32)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		digits, base := yamlInt(s)
		u, err := strconv.ParseUint(digits, base, 64)
		if err != nil || strings.HasPrefix(digits, "-") {
			return nil, recordError(n, path, "want a whole number from 0 to %d, got %q", uint64(math.MaxUint64), s)
		}
		return json.Number(strconv.FormatUint(u, 10)), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch strings.ToLower(s) {
		case ".inf", "+.inf":
			return "Infinity", nil
		case "-.inf":
			return "-Infinity", nil
		case ".nan":
			return "NaN", nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, recordError(n, path, "want a number, got %q", s)
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return nil, recordError(n, path, "a field of kind %s cannot be read from a file", fd.Kind())
}

// wholeNumber is s as a JSON number if it is a whole number from lo to hi.
func wholeNumber(n *yaml.Node, path, s string, lo, hi int64) (any, error) {
	digits, base := yamlInt(s)
	i, err := strconv.ParseInt(digits, base, 64)
	if err != nil || i < lo || i > hi {
		return nil, recordError(n, path, "want a whole number from %d to %d, got %q", lo, hi, s)
	}
	return json.Number(strconv.FormatInt(i, 10)), nil
}

// maxRecordValues bounds the values a record file holds once its aliases
// are expanded: a few lines of anchors and aliases can stand for billions.
const maxRecordValues = 1 << 20

// within reports whether n, its aliases expanded, holds at most *budget
// values, spending them.
func within(n *yaml.Node, budget *int) bool {
	n = resolved(n)
	if *budget--; *budget < 0 {
		return false
	}
	for _, c := range n.Content {
		if !within(c, budget) {
			return false
		}
	}
	return true
}

// yamlInt is a YAML 1.2 integer's digits and base: decimal with an
// optional sign, 0x hexadecimal or 0o octal (a leading 0 alone is decimal).
func yamlInt(s string) (string, int) {
	sign, rest := "", s
	if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
		sign, rest = rest[:1], rest[1:]
	}
	if sign == "+" {
		sign = ""
	}
	switch {
	case strings.HasPrefix(rest, "0x"):
		return sign + rest[2:], 16
	case strings.HasPrefix(rest, "0o"):
		return sign + rest[2:], 8
	}
	return sign + rest, 10
}

// resolved is the node an alias (*name) stands for.
func resolved(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "key: value lines"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// messageExample shows how a message's fields are written.
func messageExample(md protoreflect.MessageDescriptor) string {
	if md.FullName() == "provex.type.v1.Date" {
		return "{year: 2025, month: 3, day: 14}, month and day optional"
	}
	return "key: value lines under it, or {field: value, ...}"
}

func fieldNames(md protoreflect.MessageDescriptor) string {
	names := make([]string, 0, md.Fields().Len())
	for i := range md.Fields().Len() {
		names = append(names, string(md.Fields().Get(i).Name()))
	}
	return strings.Join(names, ", ")
}

// wellKnownText are the well-known types whose JSON is a string, each
// with an example of it.
var wellKnownText = map[protoreflect.FullName]string{
	"google.protobuf.Timestamp": `"2025-08-01T06:00:00Z"`,
	"google.protobuf.Duration":  `"90s"`,
	"google.protobuf.FieldMask": `"display_name,state"`,
}
