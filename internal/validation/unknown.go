package validation

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ReasonUnknownField is the reason of a violation for bytes of a field the
// schema does not have, or of a known field sent with another wire type.
const ReasonUnknownField = "field.unknown"

// KnownFields reports every field of m, at any depth, that its schema does
// not have: nil, or INVALID_ARGUMENT naming each by the path of the
// message that holds it and its number ("agreement.500"), as the gateway
// names an unknown JSON field. Protobuf keeps such bytes, and a known
// field sent with another wire type, as unknown fields that nothing
// validates: in a request that writes a record they would be stored,
// signed into the change log and relayed to every node, where the owner
// could never remove them.
func KnownFields(m proto.Message) error {
	var out violations
	knownFields(m.ProtoReflect(), "", &out)
	return out.err()
}

func knownFields(m protoreflect.Message, prefix string, out *violations) {
	md := m.Descriptor()
	for b := m.GetUnknown(); len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			n = len(b)
		}
		b = b[n:]
		out.add(func() *errdetails.BadRequest_FieldViolation {
			if fd := md.Fields().ByNumber(num); fd != nil {
				return &errdetails.BadRequest_FieldViolation{Field: prefix + string(fd.Name()), Reason: ReasonUnknownField,
					Description: fmt.Sprintf("was sent with wire type %d, which is not that of a %s field", typ, fd.Kind())}
			}
			return &errdetails.BadRequest_FieldViolation{Field: prefix + strconv.Itoa(int(num)), Reason: ReasonUnknownField,
				Description: fmt.Sprintf("field number %d is not in the schema of %s; it would be stored unseen, so it is refused", num, md.FullName())}
		})
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
					knownFields(v.Message(), path+"["+strconv.Quote(k.String())+"].", out)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i, l := 0, v.List(); i < l.Len(); i++ {
					knownFields(l.Get(i).Message(), path+"["+strconv.Itoa(i)+"].", out)
				}
			}
		case fd.Message() != nil:
			knownFields(v.Message(), path+".", out)
		}
		return true
	})
}

// ReasonNumberCut is the reason of a violation for a number its field's
// type cannot hold (NumbersFit).
const ReasonNumberCut = "int.cut"

// NumbersFit reports every number in b, the wire form of a message of md,
// at any depth, that its field's type cannot hold: a varint of an int32 or
// enum field that is not an int32 (sign-extended to 64 bits, as protobuf
// writes a negative one), of a sint32 or uint32 field one past 32 bits.
// Protobuf keeps such a number's low 32 bits without a word (2^40+9 is
// read as 9, 2^63 as 0, an enum's 2^32+1 as its value 1), where the
// gateway's JSON refuses it: nil, or INVALID_ARGUMENT naming each, as
// KnownFields names a field. It reads b without decoding it; bytes that
// are not protobuf are left to unmarshalling.
func NumbersFit(b []byte, md protoreflect.MessageDescriptor) error {
	var out violations
	numbersFit(b, md, "", &out, 0)
	return out.err()
}

// numbersFit adds to out the numbers of b, a message of md at prefix, that
// do not fit their fields. Elements of lists are named by their index, map
// entries by their key, as Check names them. Once out is full no path is
// built: the numbers past it are only counted.
func numbersFit(b []byte, md protoreflect.MessageDescriptor, prefix string, out *violations, depth int) {
	var elements map[protowire.Number]int // of each repeated field so far: the next one's index
	for field := range wireFields(b) {
		num, typ, value := field.num, field.typ, field.value
		fd := md.Fields().ByNumber(num)
		if fd == nil {
			continue
		}
		path := ""
		if !out.full() {
			path = prefix + string(fd.Name())
			if md.IsMapEntry() {
				// prefix names the entry by its key: its value is that.
				path = strings.TrimSuffix(prefix, ".")
			}
		}
		element := func() string {
			if elements == nil {
				elements = map[protowire.Number]int{}
			}
			i := elements[num]
			elements[num]++
			if out.full() {
				return ""
			}
			return path + "[" + strconv.Itoa(i) + "]"
		}
		switch {
		// Protobuf's own limit of nesting is 10,000: the API's messages
		// are a few deep, so a deeper one is left for it to refuse.
		case fd.Message() != nil && typ == protowire.BytesType && depth < 100:
			inner, _ := protowire.ConsumeBytes(value)
			switch {
			case fd.IsMap() && !out.full():
				path += "[" + strconv.Quote(mapKey(inner, fd.MapKey())) + "]"
			case fd.IsList():
				path = element()
			}
			if path != "" {
				path += "."
			}
			numbersFit(inner, fd.Message(), path, out, depth+1)
		case typ == protowire.VarintType:
			v, _ := protowire.ConsumeVarint(value)
			if fd.IsList() {
				path = element()
			}
			numberFits(fd, v, path, out)
		case typ == protowire.BytesType && fd.IsList() && varintKind(fd.Kind()):
			// A packed list: its elements' varints one after another.
			packed, _ := protowire.ConsumeBytes(value)
			for len(packed) > 0 {
				v, n := protowire.ConsumeVarint(packed)
				if n < 0 {
					break
				}
				packed = packed[n:]
				numberFits(fd, v, element(), out)
			}
		}
	}
}

// varintKind reports whether a field of kind k is written as a varint.
func varintKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return true
	}
	return false
}

// numberFits adds to out a violation for v, a varint of fd at path, when
// fd's type cannot hold it.
func numberFits(fd protoreflect.FieldDescriptor, v uint64, path string, out *violations) {
	switch k := fd.Kind(); {
	case (k == protoreflect.Int32Kind || k == protoreflect.EnumKind) && int64(v) != int64(int32(v)):
	case (k == protoreflect.Sint32Kind || k == protoreflect.Uint32Kind) && v > math.MaxUint32:
	default:
		return
	}
	out.add(func() *errdetails.BadRequest_FieldViolation {
		return &errdetails.BadRequest_FieldViolation{Field: path, Reason: ReasonNumberCut,
			Description: numberCut(fd, v) + "; protobuf would keep its low 32 bits alone, another number, so it is refused"}
	})
}

// numberCut says why v, a varint of fd, does not fit fd's type.
func numberCut(fd protoreflect.FieldDescriptor, v uint64) string {
	switch fd.Kind() {
	case protoreflect.Sint32Kind:
		return fmt.Sprintf("%d (zigzag-encoded) does not fit a sint32 field: it must be from %d to %d", protowire.DecodeZigZag(v), math.MinInt32, math.MaxInt32)
	case protoreflect.Uint32Kind:
		return fmt.Sprintf("%d does not fit a uint32 field: it must be at most %d", v, uint32(math.MaxUint32))
	}
	return fmt.Sprintf("%d does not fit an %s field: it must be from %d to %d", int64(v), fd.Kind(), math.MinInt32, math.MaxInt32)
}

// mapKey is the key of a map entry (its wire form, entry), as text.
func mapKey(entry []byte, kd protoreflect.FieldDescriptor) string {
	key := ""
	for field := range wireFields(entry) {
		if field.num == kd.Number() {
			switch field.typ {
			case protowire.BytesType:
				b, _ := protowire.ConsumeBytes(field.value)
				key = string(b)
			case protowire.VarintType:
				v, _ := protowire.ConsumeVarint(field.value)
				key = strconv.FormatInt(int64(v), 10)
				if kd.Kind() == protoreflect.Uint32Kind || kd.Kind() == protoreflect.Uint64Kind {
					key = strconv.FormatUint(v, 10)
				}
			}
		}
	}
	return key
}
