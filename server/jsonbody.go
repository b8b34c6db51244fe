package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/validation"
)

// bodyJSON is the gateway's marshaler. protojson names the place of what it
// cannot read in a body by line and column ("invalid UTF-8 in string",
// "unknown field", a string for an int), and the gateway answers that
// INVALID_ARGUMENT with no field, where gRPC names the field
// (validation.DecodeError). bodyJSON finds the field at that place and
// leaves the error, naming it, on the request's body (limitedBody), where the
// error handler takes it: the gateway itself keeps only the error's text.
type bodyJSON struct{ *runtime.JSONPb }

func (m bodyJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		err := m.decode(r, v)
		if b, ok := r.(*limitedBody); ok && err != nil && b.readErr != nil {
			// The body was not read to its end: whatever the JSON
			// read of it says, that is why.
			b.invalid = b.unread()
			return b.invalid
		}
		return err
	})
}

// decode reads one JSON value of v from r (NewDecoder).
func (m bodyJSON) decode(r io.Reader, v any) error {
	var raw json.RawMessage
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		// io.EOF is an empty body, which the gateway takes as an
		// empty message.
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &syntax):
			return bodyError(r, v, "is not JSON: %s (at byte %d)", syntax, syntax.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return bodyError(r, v, "is not JSON: it ends in the middle of a value")
		}
		return err
	}
	// A body is one JSON value: a second one, or anything after
	// the first, is not taken as if it were not there.
	if _, err := dec.Token(); err != io.EOF {
		return bodyError(r, v, "is not one JSON value: something follows it at byte %d", dec.InputOffset())
	}
	if at := loneSurrogate(raw); at >= 0 {
		// protojson refuses it as "unexpected EOF", with no place.
		return bodyErrorAt(r, raw, v, at, "holds %s, half of a UTF-16 surrogate pair without its other half: not a character", raw[at:at+6])
	}
	if at := pastElements(raw, validation.MaxElements); at >= 0 {
		return bodyErrorAt(r, raw, v, at, "holds more than %d elements of lists; no request of this API needs that many", validation.MaxElements)
	}
	err := m.JSONPb.Unmarshal(raw, v)
	if err == nil {
		if b, ok := r.(*limitedBody); ok {
			if b.invalid = contradictsPath(v, b.pathParams); b.invalid != nil {
				return b.invalid
			}
		}
		return nil
	}
	named := namedDecodeError(raw, v, err)
	if b, ok := r.(*limitedBody); ok && named != nil {
		b.invalid = named
	}
	return err
}

// pastElements is the offset in the JSON raw of the element of a list that
// passes limit elements of lists in all, or -1: a body's cost to decode is
// not its size (validation.MaxElements). raw is JSON already.
func pastElements(raw []byte, limit int) int {
	var lists []bool // the open containers, true for a list
	inString, escaped, inScalar := false, false, false
	elements := 0
	for i, c := range raw {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if inScalar {
			if c != ',' && c != ']' && c != '}' && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				continue
			}
			inScalar = false
		}
		switch c {
		case ' ', '\t', '\n', '\r', ',', ':':
			continue
		case '}', ']':
			if len(lists) > 0 {
				lists = lists[:len(lists)-1]
			}
			continue
		}
		// c begins a value (in an object, perhaps a key).
		if len(lists) > 0 && lists[len(lists)-1] {
			if elements++; elements > limit {
				return i
			}
		}
		switch c {
		case '"':
			inString = true
		case '{':
			lists = append(lists, false)
		case '[':
			lists = append(lists, true)
		default:
			inScalar = true
		}
	}
	return -1
}

// loneSurrogate is the offset in the JSON raw of a \uXXXX escape that is
// half of a UTF-16 surrogate pair without its other half, or -1.
func loneSurrogate(raw []byte) int {
	inString := false
	pendingHigh := -1 // offset of a high surrogate awaiting its low half
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			inString = c == '"'
			continue
		}
		if c == '"' {
			if pendingHigh >= 0 {
				return pendingHigh
			}
			inString = false
			continue
		}
		if c != '\\' {
			if pendingHigh >= 0 {
				return pendingHigh
			}
			continue
		}
		if i+1 >= len(raw) {
			return -1
		}
		if raw[i+1] != 'u' || i+6 > len(raw) {
			if pendingHigh >= 0 {
				return pendingHigh
			}
			i++ // the escaped character
			continue
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		switch {
		case err != nil:
		case n >= 0xD800 && n <= 0xDBFF:
			if pendingHigh >= 0 {
				return pendingHigh
			}
			pendingHigh = i
		case n >= 0xDC00 && n <= 0xDFFF:
			if pendingHigh < 0 {
				return i
			}
			pendingHigh = -1
		default:
			if pendingHigh >= 0 {
				return pendingHigh
			}
		}
		i += 5
	}
	return -1
}

// bodyError refuses the body (read from r, decoded into v) as a whole:
// INVALID_ARGUMENT naming the request's field the body is, if it is one,
// which the error handler takes from r as namedDecodeError's.
func bodyError(r io.Reader, v any, format string, args ...any) error {
	return bodyErrorAt(r, nil, v, -1, format, args...)
}

// bodyErrorAt is bodyError for what is at offset at of the body raw
// (decoded into v), naming the field there when it can.
func bodyErrorAt(r io.Reader, raw []byte, v any, at int, format string, args ...any) error {
	md, prefix := bodyMessage(v)
	path := ""
	if at >= 0 && md != nil {
		path, _, _ = jsonPathAt(raw, at, md)
	}
	var err error = &apperr.Error{Code: codes.InvalidArgument, Message: "the body " + fmt.Sprintf(format, args...)}
	switch {
	case path != "":
		err = apperr.Invalid(prefix+path, format, args...)
	case prefix != "":
		err = apperr.Invalid(strings.TrimSuffix(prefix, "."), format, args...)
	}
	if b, ok := r.(*limitedBody); ok {
		b.invalid = err
	}
	return err
}

// protojsonPlace is where protojson says it stopped: "(line 1:18): why".
var protojsonPlace = regexp.MustCompile(`\(line (\d+):(\d+)\): (.*)$`)

// namedDecodeError names the field of the body (raw, decoded into v) at the
// place protojson's err gives: an INVALID_ARGUMENT, or nil when it cannot
// tell.
func namedDecodeError(raw []byte, v any, err error) error {
	m := protojsonPlace.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	line, _ := strconv.Atoi(m[1])
	column, _ := strconv.Atoi(m[2])
	offset := byteOffset(raw, line, column)
	md, prefix := bodyMessage(v)
	if offset < 0 || md == nil {
		return nil
	}
	path, fd, ok := jsonPathAt(raw, offset, md)
	if !ok {
		return nil
	}
	why := strings.ToValidUTF8(m[3], "\uFFFD")
	if len(why) > 256 {
		// protojson's words end with the value; a long one is clipped.
		why = apperr.Clip(why)
	}
	if v := protojsonBadValue.FindStringSubmatch(m[3]); v != nil && fd != nil {
		// protojson gives a string quoted, a number or true as it is, and
		// of a list or an object only its first character.
		sent := v[1]
		switch sent {
		case "[":
			sent = "a list"
		case "{":
			sent = "an object"
		}
		words := ""
		if text, err := strconv.Unquote(v[1]); err == nil {
			words = badValues(fd, []string{text})
		} else if sent == v[1] {
			// badValues quotes the values it names, all text in a query;
			// this one was not.
			words = strings.Replace(badValues(fd, []string{sent}), strconv.Quote(sent), sent, 1)
		}
		if words == "" {
			// A value of the wrong JSON type, which the field's kind would
			// take as text (1 for a bool, 7 for a string).
			words = fmt.Sprintf("must be %s, not %s", jsonKind(fd), apperr.Clip(sent))
		}
		why = strings.ToValidUTF8(words, "\uFFFD")
	}
	if path == "" {
		// The body itself (null, a list, a string): the field it is, or
		// the request (body "*", an :undelete's).
		if prefix == "" {
			return &apperr.Error{Code: codes.InvalidArgument, Message: "the body must be a JSON object of the request's fields: " + why}
		}
		return apperr.Invalid(strings.TrimSuffix(prefix, "."), "%s", why)
	}
	return apperr.Invalid(apperr.Clip(prefix+path), "%s", why)
}

// jsonKind says what JSON value a field of fd's kind takes.
func jsonKind(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "text in quotes"
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.EnumKind:
		return "one of " + enumNames(fd)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "an object"
	}
	return "a number"
}

// protojsonBadValue is protojson's refusal of a value its field's kind
// cannot take, which names the field in its JSON name ("invalid value for
// int32 field memberCount: 99999999999"): the value.
var protojsonBadValue = regexp.MustCompile(`^invalid value for \w+ field \w+: (.*)$`)

// contradictsPath refuses a body (decoded into v) that sets a field the
// path sets too (a PATCH's agreement.name, an :undelete's name) to another
// value; nil when it leaves it out or agrees.
func contradictsPath(v any, pathParams map[string]string) error {
	if len(pathParams) == 0 {
		return nil
	}
	msg := decodedMessage(v)
	_, prefix := bodyMessage(v)
	if msg == nil {
		return nil
	}
	for key, want := range pathParams {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		if got, ok := stringAt(msg.ProtoReflect(), rest); ok && got != "" && got != want {
			return apperr.Invalid(key, "is %q in the body, but the URL names %q; leave it out of the body or make it the same", got, want)
		}
	}
	return nil
}

// decodedMessage is the message a body decoded into v is: v itself (body
// "*"), or what v, a pointer to the request's field, points to.
func decodedMessage(v any) proto.Message {
	if m, ok := v.(proto.Message); ok {
		return m
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil
	}
	m, _ := rv.Elem().Interface().(proto.Message)
	return m
}

// stringAt is the string field of m at path (dotted proto names), if
// there is one.
func stringAt(m protoreflect.Message, path string) (string, bool) {
	names := strings.Split(path, ".")
	for i, name := range names {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.IsList() || fd.IsMap() {
			return "", false
		}
		if i == len(names)-1 {
			if fd.Kind() != protoreflect.StringKind {
				return "", false
			}
			return m.Get(fd).String(), true
		}
		if fd.Message() == nil || !m.Has(fd) {
			return "", false
		}
		m = m.Get(fd).Message()
	}
	return "", false
}

// bodyMessage is the message a body is decoded into and the field of the
// request it is: the whole request (body "*"), or a pointer to the request's
// field, which in provex's HTTP rules is always named after its message
// (body: "border_gate" is a BorderGate; TestBodyFieldsNamedAfterTheirMessage).
func bodyMessage(v any) (protoreflect.MessageDescriptor, string) {
	if m, ok := v.(proto.Message); ok {
		return m.ProtoReflect().Descriptor(), ""
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Type().Elem().Kind() != reflect.Pointer {
		return nil, ""
	}
	m, ok := reflect.Zero(rv.Type().Elem()).Interface().(proto.Message)
	if !ok {
		return nil, ""
	}
	md := m.ProtoReflect().Descriptor()
	return md, snakeCase(string(md.Name())) + "."
}

func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// byteOffset turns protojson's line and column (1-based, counted in runes)
// into a byte offset of b, or -1.
func byteOffset(b []byte, line, column int) int {
	off := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	for ; column > 1 && off < len(b); column-- {
		_, n := utf8.DecodeRune(b[off:])
		off += n
	}
	return off
}

// jsonFrame is an object or array being read by jsonPathAt.
type jsonFrame struct {
	path    string
	md      protoreflect.MessageDescriptor // an object that is a message
	field   protoreflect.FieldDescriptor   // an array or map that is this field
	object  bool
	wantKey bool
	key     string // the current member's path segment
	index   int
}

// jsonPathAt walks the JSON raw, a message md, token by token to the one
// that spans offset, and returns the path of the field there as validation
// writes it ("partner_countries[1]", "signed_date.month"). Keys name proto
// fields by their proto or JSON names; an unknown key is named as sent.
// fd is the field there (a list's or map's for an element), nil when the
// path names none.
func jsonPathAt(raw []byte, offset int, md protoreflect.MessageDescriptor) (string, protoreflect.FieldDescriptor, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	// Numbers stay text: one no float64 holds (1e400) is what protojson
	// may be refusing.
	dec.UseNumber()
	var stack []*jsonFrame
	// current is the path of the value the top frame is at.
	current := func() (string, protoreflect.FieldDescriptor) {
		f := stack[len(stack)-1]
		if f.object && f.md != nil {
			fd := f.md.Fields().ByJSONName(f.key)
			if fd == nil {
				fd = f.md.Fields().ByName(protoreflect.Name(f.key))
			}
			if fd == nil {
				return f.path + strings.ToValidUTF8(f.key, "\uFFFD"), nil
			}
			return f.path + string(fd.Name()), fd
		}
		if f.field == nil { // not a field of the request
			return f.path + strings.ToValidUTF8(f.key, "\uFFFD"), nil
		}
		base := strings.TrimSuffix(f.path, ".")
		if f.object { // a map
			return base + "[" + strconv.Quote(f.key) + "]", f.field.MapValue()
		}
		return base + "[" + strconv.Itoa(f.index) + "]", f.field
	}
	advance := func() {
		if len(stack) == 0 {
			return
		}
		if f := stack[len(stack)-1]; f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, false
		}
		past := dec.InputOffset() > int64(offset)
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.object && f.wantKey {
				if key, ok := tok.(string); ok {
					f.key, f.wantKey = key, false
					if past {
						p, fd := current()
						return p, fd, true
					}
					continue
				}
			}
		}
		delim, isDelim := tok.(json.Delim)
		if isDelim && (delim == '}' || delim == ']') {
			if past && len(stack) > 0 {
				return strings.TrimSuffix(stack[len(stack)-1].path, "."), stack[len(stack)-1].field, true
			}
			stack = stack[:len(stack)-1]
			advance()
			continue
		}
		path, fd := "", protoreflect.FieldDescriptor(nil)
		if len(stack) > 0 {
			path, fd = current()
		}
		if past {
			return path, fd, true
		}
		if !isDelim {
			advance()
			continue
		}
		f := &jsonFrame{path: path + ".", object: delim == '{', wantKey: delim == '{'}
		switch {
		case len(stack) == 0:
			f.path, f.md = "", md
		case fd == nil:
		case (fd.IsList() || fd.IsMap()) && !strings.HasSuffix(path, "]"):
			f.field = fd
		case fd.Message() != nil && !fd.IsMap():
			f.md = fd.Message()
		}
		stack = append(stack, f)
	}
}
