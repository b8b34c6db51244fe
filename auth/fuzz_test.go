package auth

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/provex/provex/internal/apperr"
)

func FuzzParseToken(f *testing.F) {
	valid := "pvx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for i := 0; i < 3; i++ {
		plain, _, err := NewToken(RoleViewer, time.Time{}, "", t0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(plain)
	}
	for _, s := range []string{
		valid,
		"pvx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", // trailing bits
		"pvx_0123456789ABCDEF_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // upper-case id
		"pvx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // padding
		"pvx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // short
		"pvx_0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"pvx_0123456789abcdef_+/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"Bearer pvx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"", "pvx_", "pvx__", strings.Repeat("_", TokenLen), strings.Repeat("é", TokenLen/2),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseToken(s)
		if err != nil {
			if id != "" || secret != nil {
				t.Fatalf("error %v with results %q, %x", err, id, secret)
			}
			if c := apperr.Status(err, "").Code(); c != codes.Unauthenticated {
				t.Fatalf("error code %v", c)
			}
			return
		}
		if len(id) != 16 || len(secret) != 32 {
			t.Fatalf("parsed %q into id %q and %d secret bytes", s, id, len(secret))
		}
		if got := FormatToken(id, secret); got != s {
			t.Fatalf("FormatToken(ParseToken(%q)) = %q", s, got)
		}
		// A parsed secret must never open a token stored with another hash.
		if (Token{Hash: dummyHash, Role: RoleAdmin}).Check(secret, t0) == nil {
			t.Fatalf("secret of %q matches the dummy hash", s)
		}
	})
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{
		"Bearer pvx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"bearer x", "BEARER\tx", "Bearer", "Bearer ", "Basic abc", "x", "", " ", "Bearer a b",
		"Bearer \x00", "Bearer é",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, twice bool) {
		md := metadata.MD{"authorization": []string{v}}
		if twice {
			md["authorization"] = append(md["authorization"], v)
		}
		tok, ok, err := BearerFromMetadata(md)
		if !ok {
			t.Fatal("value present but not reported")
		}
		if err != nil {
			if tok != "" {
				t.Fatalf("error %v with token %q", err, tok)
			}
			if c := apperr.Status(err, "").Code(); c != codes.Unauthenticated {
				t.Fatalf("error code %v", c)
			}
			return
		}
		if twice {
			t.Fatal("two values accepted")
		}
		if tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("token %q from %q", tok, v)
		}
		if !strings.Contains(v, tok) {
			t.Fatalf("token %q is not in %q", tok, v)
		}
		// What was accepted is accepted again in canonical form.
		again, _, err := BearerFromMetadata(metadata.Pairs("authorization", "Bearer "+tok))
		if err != nil || again != tok {
			t.Fatalf("canonical form of %q: %q, %v", tok, again, err)
		}
		// And the parser downstream does not panic on it.
		_, _, _ = ParseToken(tok)
	})
}
