package resource

import "google.golang.org/protobuf/reflect/protoreflect"

// NewKindForTest builds a kind outside the package's list.
func NewKindForTest(collection, field string, msg protoreflect.ProtoMessage) *Kind {
	return newKind(collection, field, msg)
}
