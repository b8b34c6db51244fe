package resource

import (
	"slices"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Behaviors returns a field's google.api.field_behavior annotations: the
// schema, not a list kept here, says which fields only the server sets and
// which a request must carry.
func Behaviors(fd protoreflect.FieldDescriptor) []annotations.FieldBehavior {
	b, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return b
}

// HasBehavior reports whether fd is annotated with b.
func HasBehavior(fd protoreflect.FieldDescriptor, b annotations.FieldBehavior) bool {
	return slices.Contains(Behaviors(fd), b)
}

// Descriptor returns a message's google.api.resource annotation, or nil
// when it is not a resource.
func Descriptor(md protoreflect.MessageDescriptor) *annotations.ResourceDescriptor {
	rd, _ := proto.GetExtension(md.Options(), annotations.E_Resource).(*annotations.ResourceDescriptor)
	return rd
}

// NameField is the field holding a resource's name: the annotation's
// name_field, "name" by default (AIP-122). It is the resource's identifier
// (AIP-203), which no update changes.
func NameField(md protoreflect.MessageDescriptor) protoreflect.Name {
	if n := Descriptor(md).GetNameField(); n != "" {
		return protoreflect.Name(n)
	}
	return "name"
}

// Required returns the fields of md annotated REQUIRED, in field order.
func Required(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	return withBehavior(md, annotations.FieldBehavior_REQUIRED)
}

func withBehavior(md protoreflect.MessageDescriptor, b annotations.FieldBehavior) []protoreflect.FieldDescriptor {
	var out []protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if f := fields.Get(i); HasBehavior(f, b) {
			out = append(out, f)
		}
	}
	return out
}
