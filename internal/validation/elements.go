package validation

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/internal/apperr"
)

// MaxElements bounds the elements of repeated fields (and map entries) a
// request may hold, at every depth: far more than any request of the API
// needs (its rules allow at most 500 in one field), few enough to decode
// cheaply. A message's cost to decode is not its size: 4 MiB of empty
// repeated messages are 2 million of them, 340 MB allocated and a second
// or two of CPU to be refused by a rule after (an outside review held a
// node at 5 GB with eight such calls of a token holder).
const MaxElements = 10_000

// ReasonTooManyElements is the reason of the violation TooManyElements
// gives.
const ReasonTooManyElements = "repeated.too_many"

// TooManyElements refuses b, the wire form of a message of md, when it
// holds more than MaxElements elements of repeated fields, naming the field
// that passed the bound; nil when it does not (or is not protobuf, which
// unmarshalling says). It reads b without decoding it.
func TooManyElements(b []byte, md protoreflect.MessageDescriptor) error {
	seen := 0
	if field := countElements(b, md, "", &seen, 0); field != "" {
		return apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{Field: field, Reason: ReasonTooManyElements,
			Description: fmt.Sprintf("the request holds more than %d elements of repeated fields, the last of them here; no request of this API needs that many", MaxElements)})
	}
	return nil
}

// countElements adds to seen the elements of repeated fields in b, a
// message of md at path, returning the path of the field that takes seen
// past MaxElements, or "".
func countElements(b []byte, md protoreflect.MessageDescriptor, path string, seen *int, depth int) string {
	for field := range wireFields(b) {
		fd := md.Fields().ByNumber(field.num)
		if fd == nil {
			continue
		}
		if fd.IsList() || fd.IsMap() {
			if *seen++; *seen > MaxElements {
				return path + string(fd.Name())
			}
		}
		// Protobuf's own limit of nesting is 10,000: the API's messages
		// are a few deep, so a deeper one is left for it to refuse.
		if fd.Message() != nil && field.typ == protowire.BytesType && depth < 100 {
			inner, _ := protowire.ConsumeBytes(field.value)
			if field := countElements(inner, fd.Message(), path+string(fd.Name())+".", seen, depth+1); field != "" {
				return field
			}
		}
	}
	return ""
}
