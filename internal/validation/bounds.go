package validation

import (
	"fmt"
	"sync"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ReasonOutOfBounds is the reason of the violations of integers out of
// their bounds (Storable).
const ReasonOutOfBounds = "int.bounds"

// outOfBounds adds a violation to out when v, a scalar value of fd at path,
// is an integer outside fd's bounds.
func outOfBounds(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, out *[]*errdetails.BadRequest_FieldViolation) {
	var n int64
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n = v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n = int64(v.Uint())
	default:
		return
	}
	if b := boundsOf(fd); b != nil && (b.hasMin && n < b.min || b.hasMax && n > b.max) {
		*out = append(*out, &errdetails.BadRequest_FieldViolation{Field: path, Reason: ReasonOutOfBounds, Description: fmt.Sprintf("%d is outside %s", n, b)})
	}
}

// bounds are the inclusive bounds of an integer field.
type bounds struct {
	min, max       int64
	hasMin, hasMax bool
}

func (b *bounds) String() string {
	switch {
	case b.hasMin && b.hasMax:
		return fmt.Sprintf("%d to %d", b.min, b.max)
	case b.hasMin:
		return fmt.Sprintf("%d and above", b.min)
	}
	return fmt.Sprintf("%d and below", b.max)
}

// fieldBounds caches boundsOf per field: nil when it has none.
var fieldBounds sync.Map // protoreflect.FieldDescriptor -> *bounds

// boundsOf reads the integer bounds of fd's rules (of its elements, for a
// list), or nil.
func boundsOf(fd protoreflect.FieldDescriptor) *bounds {
	if b, ok := fieldBounds.Load(fd); ok {
		return b.(*bounds)
	}
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	if fd.IsList() {
		rules = rules.GetRepeated().GetItems()
	}
	var b *bounds
	if rules != nil {
		r := rules.ProtoReflect()
		if typed := r.WhichOneof(r.Descriptor().Oneofs().ByName("type")); typed != nil && typed.Message() != nil {
			b = readBounds(r.Get(typed).Message())
		}
	}
	fieldBounds.Store(fd, b)
	return b
}

// readBounds reads gt, gte, lt and lte of an integer rules message
// (Int32Rules, Int64Rules, UInt32Rules ...), as inclusive bounds.
func readBounds(r protoreflect.Message) *bounds {
	var b bounds
	get := func(name protoreflect.Name) (int64, bool) {
		fd := r.Descriptor().Fields().ByName(name)
		if fd == nil || !r.Has(fd) {
			return 0, false
		}
		switch fd.Kind() {
		case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
			return int64(r.Get(fd).Uint()), true
		case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
			return r.Get(fd).Int(), true
		}
		return 0, false
	}
	if n, ok := get("gte"); ok {
		b.min, b.hasMin = n, true
	} else if n, ok := get("gt"); ok {
		b.min, b.hasMin = n+1, true
	}
	if n, ok := get("lte"); ok {
		b.max, b.hasMax = n, true
	} else if n, ok := get("lt"); ok {
		b.max, b.hasMax = n-1, true
	}
	if !b.hasMin && !b.hasMax {
		return nil
	}
	return &b
}
