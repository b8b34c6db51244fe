package validation

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
)

// Protobuf refuses to marshal or unmarshal a string field that is not UTF-8,
// with an error that names no field, and gRPC reports that as INTERNAL; the
// gateway's JSON cannot write a google.protobuf.Timestamp outside years
// 1-9999 or with nanos outside 0-999,999,999, and fails the whole answer.
// The checks here find such fields, so the caller hears which of its fields
// is wrong, and a value that would break every later answer holding it
// (over JSON, on every node it reaches) is never stored. Paths are written
// as in Check ("agreement.partner_countries[1]").

// The reasons of the violations found here.
const (
	ReasonNotUTF8   = "string.utf8"
	ReasonNUL       = "string.nul"
	ReasonTimestamp = "timestamp.range"
	ReasonEpoch     = "timestamp.epoch"
)

const (
	timestampName = "google.protobuf.Timestamp"
	notUTF8       = "is not valid UTF-8 text"
	// U+0000 is UTF-8, and SQLite stores it, but PostgreSQL's text cannot
	// (a store on PostgreSQL would fail the write, or a whole sync run):
	// no string the store keeps may hold it, on either database.
	holdsNUL = "holds the character U+0000 (NUL), which no text may hold"
)

// WellFormed reports every string field of m that is not UTF-8 or holds
// U+0000, and every timestamp outside filter.MinTimestamp..MaxTimestamp,
// whose nanos are not 0-999,999,999, or that is the Unix epoch itself
// (stored, it would read as unset): nil, or INVALID_ARGUMENT naming
// them. The gateway puts path and query parameters into a request as they
// come, so it checks before it sends; Check checks every request; the
// store checks every state it applies (Storable).
func WellFormed(m proto.Message) error {
	return checked(m, rules{epochRefused: true})
}

// Storable is WellFormed and, in the same pass over m, every integer field
// (int32, int64, uint32, in nested messages and lists too) within the
// bounds its schema gives it (buf.validate's gt, gte, lt, lte): what the
// store checks on every state it applies from another member. The API's
// validation checks the bounds with every other rule; a member's signed
// records no API checked, and two amounts past Money.units' bound put
// every national total of their currency past int64, the honest members'
// figures with them.
//
// Storable keeps a time at the Unix epoch, which the API refuses: records
// stored before the API refused it hold it (counted unset), and their
// owner's later entries (a delete, an undelete) carry it still; held,
// such an entry left the record live on every node but its owner.
func Storable(m proto.Message) error {
	return checked(m, rules{bounded: true})
}

// rules are what checked refuses besides text that is not UTF-8 or holds
// U+0000 and times out of range: integers out of their schema's bounds,
// and the epoch itself.
type rules struct{ bounded, epochRefused bool }

func checked(m proto.Message, r rules) error {
	var out []*errdetails.BadRequest_FieldViolation
	wellFormed(m.ProtoReflect(), "", r, &out)
	if len(out) == 0 {
		return nil
	}
	return apperr.InvalidFields(out...)
}

var badTimestamp = fmt.Sprintf("is not a time the node keeps: want %s to %s, with nanos from 0 to 999,999,999",
	filter.MinTimestamp.Format(time.RFC3339), filter.MaxTimestamp.Format(time.RFC3339))

// atEpoch is why 1970-01-01T00:00:00Z itself is refused: a filter column
// keeps a timestamp as nanoseconds since then, and 0 as a field not set.
const atEpoch = "is 1970-01-01T00:00:00Z exactly, which the node keeps as a time not set " +
	"(filters, sorting and summaries would count it unset): leave the field unset, or give a time even a nanosecond from it"

// timestampViolation says what is wrong with t (a google.protobuf.Timestamp)
// at path, or returns nil when it is a time between filter.MinTimestamp and
// MaxTimestamp, other than the Unix epoch itself when epochRefused.
func timestampViolation(t protoreflect.Message, path string, epochRefused bool) *errdetails.BadRequest_FieldViolation {
	fields := t.Descriptor().Fields()
	seconds, nanos := t.Get(fields.ByNumber(1)).Int(), t.Get(fields.ByNumber(2)).Int()
	// The bounds are whole seconds.
	first, last := filter.MinTimestamp.Unix(), filter.MaxTimestamp.Unix()
	switch {
	case nanos < 0 || nanos > 999_999_999 || seconds < first || seconds > last || seconds == last && nanos != 0:
		return &errdetails.BadRequest_FieldViolation{Field: path, Description: badTimestamp, Reason: ReasonTimestamp}
	case epochRefused && seconds == 0 && nanos == 0:
		return &errdetails.BadRequest_FieldViolation{Field: path, Description: atEpoch, Reason: ReasonEpoch}
	}
	return nil
}

// wellFormed adds m's violations of r to out.
func wellFormed(m protoreflect.Message, prefix string, r rules, out *[]*errdetails.BadRequest_FieldViolation) {
	bad := func(path string) {
		*out = append(*out, &errdetails.BadRequest_FieldViolation{Field: path, Description: notUTF8, Reason: ReasonNotUTF8})
	}
	nul := func(path string) {
		*out = append(*out, &errdetails.BadRequest_FieldViolation{Field: path, Description: holdsNUL, Reason: ReasonNUL})
	}
	check := func(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) {
		switch {
		case fd.Kind() == protoreflect.StringKind && !utf8.ValidString(v.String()):
			bad(path)
		case fd.Kind() == protoreflect.StringKind && strings.ContainsRune(v.String(), 0):
			nul(path)
		case fd.Message() != nil && fd.Message().FullName() == timestampName:
			if bad := timestampViolation(v.Message(), path, r.epochRefused); bad != nil {
				*out = append(*out, bad)
			}
		case fd.Message() != nil:
			wellFormed(v.Message(), path+".", r, out)
		case r.bounded:
			outOfBounds(fd, v, path, out)
		}
	}
	rangeValues(m, prefix, check, func(fd protoreflect.FieldDescriptor, key, path string) bool {
		switch {
		case fd.MapKey().Kind() == protoreflect.StringKind && !utf8.ValidString(key):
			bad(path)
		case fd.MapKey().Kind() == protoreflect.StringKind && strings.ContainsRune(key, 0):
			nul(path)
		default:
			return true
		}
		return false
	})
}

// rangeValues calls check with each value m's set fields hold (each
// element of a list, each value of a map whose key keyOK takes, given the
// map field's path), as it is named in a path ("parties[1].name",
// `labels["k"]`) after prefix.
func rangeValues(m protoreflect.Message, prefix string, check func(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string),
	keyOK func(fd protoreflect.FieldDescriptor, key, path string) bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			for i, l := 0, v.List(); i < l.Len(); i++ {
				check(fd, l.Get(i), path+"["+strconv.Itoa(i)+"]")
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if key := k.String(); keyOK(fd, key, path) {
					check(fd.MapValue(), v, path+"["+strconv.Quote(key)+"]")
				}
				return true
			})
		default:
			check(fd, v, path)
		}
		return true
	})
}

// DecodeError explains why b, a request received as md, did not unmarshal
// (err): INVALID_ARGUMENT naming each string field that is not UTF-8, or
// else the field whose bytes are not protobuf.
func DecodeError(b []byte, md protoreflect.MessageDescriptor, err error) error {
	var out violations
	broken, ok := wireUTF8(b, md, "", &out)
	if err := out.err(); err != nil {
		return err
	}
	if !ok && broken != "" {
		return apperr.Invalid(broken, "is not valid protobuf")
	}
	return &apperr.Error{Code: codes.InvalidArgument, Message: fmt.Sprintf("the request is not a valid %s message: %v", md.FullName(), err)}
}

// wireUTF8 walks the wire form b of a message md, adding a violation for
// each string field that is not UTF-8. When the bytes do not parse it
// returns false and the path of the innermost field being parsed ("" for
// md itself). Once out is full no path is built, and none is needed: the
// violations, counted, are the answer.
func wireUTF8(b []byte, md protoreflect.MessageDescriptor, prefix string, out *violations) (string, bool) {
	seen := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return strip(prefix), false
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return strip(prefix), false
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return prefix + string(fd.Name()), false
		}
		b = b[n:]
		path := ""
		if !out.full() {
			path = prefix + string(fd.Name())
			if fd.IsList() {
				path += "[" + strconv.Itoa(seen[num]) + "]"
			}
		}
		if fd.IsList() {
			seen[num]++
		}
		switch {
		case fd.Kind() == protoreflect.StringKind:
			if !utf8.Valid(v) {
				out.add(func() *errdetails.BadRequest_FieldViolation {
					return &errdetails.BadRequest_FieldViolation{Field: path, Description: notUTF8, Reason: ReasonNotUTF8}
				})
			}
		case fd.IsMap():
			// A map entry is a message of key and value; a bad key or
			// value names the map.
			var entry violations
			if broken, ok := wireUTF8(v, fd.Message(), path+".", &entry); !ok {
				return broken, false
			}
			if len(entry.kept) > 0 {
				out.add(func() *errdetails.BadRequest_FieldViolation {
					return &errdetails.BadRequest_FieldViolation{Field: path, Description: "has a key or value that " + notUTF8, Reason: ReasonNotUTF8}
				})
			}
		case fd.Message() != nil:
			if broken, ok := wireUTF8(v, fd.Message(), path+".", out); !ok {
				return broken, false
			}
		}
	}
	return "", true
}

func strip(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix[:len(prefix)-1]
}
