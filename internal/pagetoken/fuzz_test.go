package pagetoken

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/storage"
)

// refused fails t unless err is the package's refusal: INVALID_ARGUMENT
// naming page_token.
func refused(t *testing.T, what string, err error) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != codes.InvalidArgument || len(e.Violations) != 1 || e.Violations[0].GetField() != "page_token" {
		t.Fatalf("%s: got %v, want INVALID_ARGUMENT on page_token", what, err)
	}
}

// FuzzPageToken decodes arbitrary text as a page token. Decode never
// panics and refuses what it cannot read with INVALID_ARGUMENT on
// page_token; a token it reads encodes again to one that reads the same.
// The token is not secret and its values are not signed (a changed value is
// only another place to resume the same query), but its frame is checked:
// another query's fingerprint, another version, a cut or an extended token
// is refused.
func FuzzPageToken(f *testing.F) {
	fp := Fingerprint("agreements", "provinces/cao-bang", "state = IN_FORCE AND signed_date >= 2024", "signed_date desc, display_name")
	other := Fingerprint("agreements", "provinces/cao-bang", "state = DRAFT", "signed_date desc, display_name")
	for _, c := range []*storage.Cursor{
		{Row: 1},
		{Values: []any{int64(20240501), "Hợp tác Bách Sắc"}, Row: 42},
		{Values: []any{int64(-1 << 63), "", int64(1<<63 - 1)}, Row: -7},
		{Values: []any{"provinces/cao-bang/agreements/lao-cai-yunnan-2024"}, Row: 1 << 40},
	} {
		f.Add(Encode(c, fp))
		f.Add(Encode(c, other))
	}
	for _, s := range []string{"", "AA", "Ag", "!!!!", "=", strings.Repeat("A", 200), "AgAAAAAAAAAAEA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := Decode(token, fp)
		if err != nil {
			refused(t, "Decode", err)
			return
		}
		if token == "" {
			if c != nil {
				t.Fatalf("Decode(\"\") = %v, want nil (first page)", c)
			}
			return
		}
		if c == nil || len(c.Values) > MaxValues {
			t.Fatalf("Decode(%q) = %v", token, c)
		}
		again := Encode(c, fp)
		c2, err := Decode(again, fp)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("Decode(%q) = %v; its encoding %q decodes to %v, %v", token, c, again, c2, err)
		}
		if Encode(c2, fp) != again {
			t.Fatalf("encoding %v is not stable", c)
		}
		_, err = Decode(again, other)
		refused(t, "another query's token", err)
		raw, _ := base64.RawURLEncoding.DecodeString(again)
		enc := base64.RawURLEncoding.EncodeToString
		for n := range len(raw) {
			_, err := Decode(enc(raw[:n]), fp)
			if n == 0 {
				if err != nil {
					t.Fatalf("empty token refused: %v", err)
				}
				continue
			}
			refused(t, "a cut token", err)
		}
		_, err = Decode(enc(append(raw[:len(raw):len(raw)], 0)), fp)
		refused(t, "an extended token", err)
		for i := range 1 + len(fp) {
			changed := append([]byte(nil), raw...)
			changed[i] ^= 0x01
			_, err := Decode(enc(changed), fp)
			refused(t, "a changed version or fingerprint", err)
		}
	})
}
