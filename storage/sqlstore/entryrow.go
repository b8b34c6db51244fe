package sqlstore

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"

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
// as it came, but a name that is not text PostgreSQL can store (one
// holding U+0000, or not UTF-8, as a member may sign one), which is stored
// in hex: the row must hold the entry exactly, its hash covers the name,
// and one such entry must not stop its origin's log on PostgreSQL while
// SQLite holds it. Rows written before this kept 0 and 1, which read as
// before.
const (
	entryNamed       = 0 // unsealed, the name stored
	entrySealed      = 1 // sealed: no name
	entryNameInState = 2 // unsealed, the name is the state's field 1
	entryNameHex     = 3 // unsealed, the name stored in hex
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
	case strings.ContainsRune(e.Name, 0) || !utf8.ValidString(e.Name):
		return hex.EncodeToString([]byte(e.Name)), entryNameHex
	}
	return e.Name, entryNamed
}

// entryName is the name of an entry read from a row that stored name in
// form.
func entryName(name string, form int64, data []byte) string {
	switch form {
	case entryNameInState:
		return nameInState(data)
	case entryNameHex:
		// A row that does not decode reads as a name its hash does not
		// cover, which verification reports as damage.
		b, _ := hex.DecodeString(name)
		return string(b)
	}
	return name
}
