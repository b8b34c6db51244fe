// Package pagetoken is provex's one page-token codec: the keyset cursor of
// the last record served plus a fingerprint of the query it belongs to.
package pagetoken

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/storage"
)

// Keyset tokens stay correct while
// records are inserted or deleted between pages: no record is served twice
// and none that existed throughout is skipped. The token is opaque to
// clients but not secret: it holds only values of the records they were
// served.

const pageTokenVersion = 2

// Fingerprint binds tokens to a query: the parts are every request field
// that shapes the result (collection, parent, filter, order ...), so a token
// replayed with another query is refused instead of silently skipping.
func Fingerprint(parts ...string) []byte {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)[:8]
}

// MaxValues bounds the values of a decoded cursor: one per field of an
// order_by (a kind's orderable fields, 17 for projects) and the row id.
const MaxValues = 64

// Encode returns the token of the page after c; "" when c is nil (the
// last page).
func Encode(c *storage.Cursor, fingerprint []byte) string {
	if c == nil {
		return ""
	}
	b := []byte{pageTokenVersion}
	b = append(b, fingerprint...)
	b = binary.AppendUvarint(b, uint64(len(c.Values)))
	for _, v := range c.Values {
		switch v := v.(type) {
		case int64:
			b = append(b, 'i')
			b = binary.AppendVarint(b, v)
		case string:
			b = append(b, 's')
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, 's')
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		default:
			// Index columns are INTEGER or TEXT; anything else is a bug.
			panic("page token: unexpected key type")
		}
	}
	b = binary.AppendVarint(b, c.Row)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadToken = errors.New("bad token")

// Unreadable is the error of a page token that does not decode, or whose
// cursor does not fit its query. Tokens are not signed (they are not
// secret, and filters and visibility apply to every page), so an edited
// one that fits is read as another place to resume, and this is all a
// refusal can say.
func Unreadable() error {
	return apperr.Invalid("page_token", "cannot be read as a page token of this query; start again without it")
}

// Decode returns the cursor of a token Encode made with the same
// fingerprint; nil for "" (the first page).
func Decode(token string, fingerprint []byte) (*storage.Cursor, error) {
	if token == "" {
		return nil, nil
	}
	invalid := Unreadable()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 1+len(fingerprint) || raw[0] != pageTokenVersion {
		return nil, invalid
	}
	if !bytes.Equal(raw[1:1+len(fingerprint)], fingerprint) {
		return nil, apperr.Invalid("page_token", "belongs to another query (another collection, parent, filter, order or text); start again without it")
	}
	r := bytes.NewReader(raw[1+len(fingerprint):])
	readString := func() (string, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(r.Len()) {
			return "", errBadToken
		}
		s := make([]byte, n)
		r.Read(s)
		return string(s), nil
	}
	count, err := binary.ReadUvarint(r)
	if err != nil || count > MaxValues {
		return nil, invalid
	}
	c := &storage.Cursor{Values: make([]any, 0, count)}
	for i := uint64(0); i < count; i++ {
		tag, err := r.ReadByte()
		if err != nil {
			return nil, invalid
		}
		switch tag {
		case 'i':
			v, err := binary.ReadVarint(r)
			if err != nil {
				return nil, invalid
			}
			c.Values = append(c.Values, v)
		case 's':
			s, err := readString()
			if err != nil {
				return nil, invalid
			}
			c.Values = append(c.Values, s)
		default:
			return nil, invalid
		}
	}
	if c.Row, err = binary.ReadVarint(r); err != nil || r.Len() != 0 {
		return nil, invalid
	}
	return c, nil
}
