package validation

import (
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/internal/apperr"
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
	var out []*errdetails.BadRequest_FieldViolation
	knownFields(m.ProtoReflect(), "", &out)
	if len(out) == 0 {
		return nil
	}
	return apperr.InvalidFields(out...)
}

func knownFields(m protoreflect.Message, prefix string, out *[]*errdetails.BadRequest_FieldViolation) {
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
		v := &errdetails.BadRequest_FieldViolation{
			Field:       prefix + strconv.Itoa(int(num)),
			Description: fmt.Sprintf("field number %d is not in the schema of %s; it would be stored unseen, so it is refused", num, md.FullName()),
			Reason:      ReasonUnknownField,
		}
		if fd := md.Fields().ByNumber(num); fd != nil {
			v.Field = prefix + string(fd.Name())
			v.Description = fmt.Sprintf("was sent with wire type %d, which is not that of a %s field", typ, fd.Kind())
		}
		*out = append(*out, v)
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
