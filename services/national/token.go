package national

import (
	"encoding/base64"
	"encoding/binary"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/storage"
)

// A search page token is the index of the collection reached and the row
// position within it (search uses the default arrival order, so the cursor
// has no other keys).
func encodeSearchToken(kind int, c *storage.Cursor) string {
	b := binary.AppendUvarint(nil, uint64(kind))
	if c != nil {
		b = binary.AppendVarint(b, c.Row)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeSearchToken(t string) (int, *storage.Cursor, error) {
	if t == "" {
		return 0, nil, nil
	}
	invalid := apperr.Invalid("page_token", "is not a token this search returned; start again without it")
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return 0, nil, invalid
	}
	kind, n := binary.Uvarint(b)
	if n <= 0 || kind > 100 {
		return 0, nil, invalid
	}
	b = b[n:]
	if len(b) == 0 {
		return int(kind), nil, nil
	}
	row, m := binary.Varint(b)
	if m <= 0 || m != len(b) {
		return 0, nil, invalid
	}
	return int(kind), &storage.Cursor{Row: row}, nil
}
