package validation

import (
	"iter"

	"google.golang.org/protobuf/encoding/protowire"
)

// wireField is a field of a message's wire form: its number, its wire type
// and its value (the bytes after its tag).
type wireField struct {
	num   protowire.Number
	typ   protowire.Type
	value []byte
}

// wireFields yields the fields of b, a message's wire form, in order, and
// stops at the first that does not parse (what protobuf refuses itself).
func wireFields(b []byte) iter.Seq[wireField] {
	return func(yield func(wireField) bool) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return
			}
			b = b[n:]
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return
			}
			value := b[:m]
			b = b[m:]
			if !yield(wireField{num, typ, value}) {
				return
			}
		}
	}
}
