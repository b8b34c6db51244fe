package sqlite

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/provex/provex/changelog"
)

// How a change-log row stores an entry (the changes table's sealed
// column). An unsealed entry of a record names the record that its state
// also names, in the state's field 1 (every kind's name field, which
// prepareAll checks), so the row does not store the name twice: it stores
// ” and entryNameInState, and reading the row takes the name back from
// the state (about 38 bytes of every entry). Anything else (an entry whose
// name is not its state's, as a member forging one might send) is stored
// as it came. Rows written before this kept 0 and 1, which read as before.
const (
	entryNamed       = 0 // unsealed, the name stored
	entrySealed      = 1 // sealed: no name
	entryNameInState = 2 // unsealed, the name is the state's field 1
)

// nameInState returns the string in field 1 of a record state's encoding,
// or "" if there is none (deterministic encoding writes it first).
func nameInState(data []byte) string {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return ""
		}
		data = data[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(data)
			if m < 0 {
				return ""
			}
			return string(v)
		}
		m := protowire.ConsumeFieldValue(num, typ, data)
		if m < 0 {
			return ""
		}
		data = data[m:]
	}
	return ""
}

// storedName is what the row of e stores as its name and form.
func storedName(e *changelog.Entry) (string, int) {
	switch {
	case e.Sealed:
		return e.Name, entrySealed
	case e.Name != "" && nameInState(e.Data) == e.Name:
		return "", entryNameInState
	}
	return e.Name, entryNamed
}

// entryName is the name of an entry read from a row that stored name in
// form.
func entryName(name string, form int64, data []byte) string {
	if form == entryNameInState {
		return nameInState(data)
	}
	return name
}
