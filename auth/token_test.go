package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// wantCode fails unless err carries code and, if msg is not empty, a message
// containing msg, both as seen by a gRPC client.
func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v", code)
	}
	st := apperr.Status(err, "ref")
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	if s, _ := status.FromError(err); s.Code() != code {
		t.Fatalf("status.FromError code = %v, want %v", s.Code(), code)
	}
	if msg != "" && !strings.Contains(st.Message(), msg) {
		t.Fatalf("message %q does not contain %q", st.Message(), msg)
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"viewer": RoleViewer, "Editor": RoleEditor, " admin ": RoleAdmin} {
		got, err := ParseRole(in)
		if err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "root", "viewers", "peer"} {
		if _, err := ParseRole(in); err == nil {
			t.Errorf("ParseRole(%q) accepted", in)
		}
	}
}

func TestTokenRoundTrip(t *testing.T) {
	plain, tok, err := NewToken(RoleEditor, t0.Add(time.Hour), "ci bot", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != TokenLen || !strings.HasPrefix(plain, "pvx_"+tok.ID+"_") {
		t.Fatalf("plaintext %q does not look like a token with id %s", plain, tok.ID)
	}
	if strings.Contains(plain, string(tok.Hash)) || len(tok.Hash) != 32 {
		t.Fatalf("bad hash %x", tok.Hash)
	}
	id, secret, err := ParseToken(plain)
	if err != nil {
		t.Fatal(err)
	}
	if id != tok.ID {
		t.Fatalf("id = %s, want %s", id, tok.ID)
	}
	if got := FormatToken(id, secret); got != plain {
		t.Fatalf("FormatToken = %q, want %q", got, plain)
	}
	if err := tok.Check(secret, t0.Add(time.Minute)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if tok.Role != RoleEditor || tok.Label != "ci bot" || !tok.CreateTime.Equal(t0) {
		t.Fatalf("token fields: %+v", tok)
	}
	// Two tokens differ.
	plain2, tok2, err := NewToken(RoleEditor, time.Time{}, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if plain2 == plain || tok2.ID == tok.ID {
		t.Fatal("two tokens are the same")
	}
}

func TestNewTokenRejects(t *testing.T) {
	cases := map[string]struct {
		role    Role
		expires time.Time
		label   string
	}{
		"no role":        {"", time.Time{}, ""},
		"unknown role":   {"root", time.Time{}, ""},
		"expired":        {RoleViewer, t0.Add(-time.Second), ""},
		"expires now":    {RoleViewer, t0, ""},
		"past 2262":      {RoleViewer, filter.MaxTimestamp.Add(time.Nanosecond), ""},
		"long label":     {RoleViewer, time.Time{}, strings.Repeat("x", MaxLabelLen+1)},
		"control label":  {RoleViewer, time.Time{}, "a\nb"},
		"invalid utf8":   {RoleViewer, time.Time{}, "a\xffb"},
		"escape in text": {RoleViewer, time.Time{}, "\x1b[31m"},
	}
	for name, c := range cases {
		if _, _, err := NewToken(c.role, c.expires, c.label, t0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, err := NewToken(RoleViewer, time.Time{}, "Sở Ngoại vụ Cao Bằng", t0); err != nil {
		t.Errorf("Vietnamese label refused: %v", err)
	}
	if _, _, err := NewToken(RoleViewer, filter.MaxTimestamp, "", t0); err != nil {
		t.Errorf("expiry at the last time a node keeps refused: %v", err)
	}
}

func TestCheck(t *testing.T) {
	plain, tok, err := NewToken(RoleViewer, t0.Add(time.Hour), "", t0)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := ParseToken(plain)
	_, other, _ := ParseToken(mustToken(t))

	t.Run("wrong secret", func(t *testing.T) {
		wantCode(t, tok.Check(other, t0), codes.Unauthenticated, "token is not valid")
	})
	t.Run("empty secret", func(t *testing.T) {
		wantCode(t, tok.Check(nil, t0), codes.Unauthenticated, "token is not valid")
	})
	t.Run("expired", func(t *testing.T) {
		wantCode(t, tok.Check(secret, t0.Add(time.Hour)), codes.Unauthenticated, "token expired at 2026-03-01T09:00:00Z")
	})
	t.Run("revoked", func(t *testing.T) {
		r := tok
		r.RevokeTime = t0.Add(time.Minute)
		wantCode(t, r.Check(secret, t0.Add(2*time.Minute)), codes.Unauthenticated, "token revoked at 2026-03-01T08:01:00Z")
	})
	t.Run("wrong secret of a revoked token says nothing of revocation", func(t *testing.T) {
		r := tok
		r.RevokeTime = t0
		wantCode(t, r.Check(other, t0), codes.Unauthenticated, "token is not valid")
	})
	t.Run("no hash", func(t *testing.T) {
		r := tok
		r.Hash = nil
		wantCode(t, r.Check(secret, t0), codes.Unauthenticated, "token is not valid")
	})
	t.Run("bad stored role", func(t *testing.T) {
		r := tok
		r.Role = "root"
		wantCode(t, r.Check(secret, t0), codes.Unauthenticated, "token is not valid")
	})
	t.Run("never expires", func(t *testing.T) {
		r := tok
		r.ExpireTime = time.Time{}
		if err := r.Check(secret, t0.AddDate(50, 0, 0)); err != nil {
			t.Fatal(err)
		}
	})
}

func mustToken(t *testing.T) string {
	t.Helper()
	plain, _, err := NewToken(RoleViewer, time.Time{}, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

func TestParseTokenMalformed(t *testing.T) {
	valid := mustToken(t)
	id := valid[4:20]
	sec := valid[21:]
	cases := map[string]string{
		"empty":              "",
		"prefix only":        "pvx_",
		"short":              valid[:len(valid)-1],
		"long":               valid + "A",
		"other prefix":       "pvy_" + valid[4:],
		"upper prefix":       "PVX_" + valid[4:],
		"upper hex":          "pvx_" + strings.ToUpper(id[:15]) + "G_" + sec,
		"upper hex id":       "pvx_ABCDEF0123456789_" + sec,
		"non hex id":         "pvx_0123456789abcdeg_" + sec,
		"no separator":       "pvx_" + id + "-" + sec,
		"std base64 plus":    "pvx_" + id + "_" + "+" + sec[1:],
		"std base64 slash":   "pvx_" + id + "_" + "/" + sec[1:],
		"padding":            "pvx_" + id + "_" + sec[:42] + "=",
		"space":              "pvx_" + id + "_" + sec[:42] + " ",
		"non-zero tail bits": "pvx_" + id + "_" + sec[:42] + "B", // 'B' = 000001: a trailing bit set
		"non ascii":          "pvx_" + id + "_" + sec[:41] + "é",
		"bearer prefix":      "Bearer " + valid[:len(valid)-7],
	}
	for name, s := range cases {
		if s == valid {
			t.Fatalf("%s: case is the valid token", name)
		}
		_, _, err := ParseToken(s)
		if err == nil {
			t.Errorf("%s: %q accepted", name, s)
			continue
		}
		wantCode(t, err, codes.Unauthenticated, "malformed bearer token")
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	store := &MemoryTokens{}
	plain, tok, err := NewToken(RoleEditor, t0.Add(24*time.Hour), "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(tok); err != nil {
		t.Fatal(err)
	}
	if err := store.Add(tok); err == nil {
		t.Fatal("duplicate id accepted")
	}

	id, err := Authenticate(ctx, store, "cao-bang", plain, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{Kind: KindUser, Member: "cao-bang", Role: RoleEditor, TokenID: tok.ID}
	if id != want {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}

	// Unknown id and wrong secret give the same answer.
	unknown := mustToken(t)
	_, err = Authenticate(ctx, store, "cao-bang", unknown, t0)
	wantCode(t, err, codes.Unauthenticated, "")
	unknownMsg := apperr.Status(err, "").Message()
	_, secret, _ := ParseToken(unknown)
	_, err = Authenticate(ctx, store, "cao-bang", FormatToken(tok.ID, secret), t0)
	wantCode(t, err, codes.Unauthenticated, "")
	if got := apperr.Status(err, "").Message(); got != unknownMsg || got != msgBadToken {
		t.Fatalf("wrong secret says %q, unknown id says %q", got, unknownMsg)
	}

	_, err = Authenticate(ctx, store, "cao-bang", "pvx_nope", t0)
	wantCode(t, err, codes.Unauthenticated, "malformed bearer token")

	_, err = Authenticate(ctx, store, "cao-bang", plain, t0.Add(48*time.Hour))
	wantCode(t, err, codes.Unauthenticated, "token expired at")

	if err := store.Revoke(tok.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err = Authenticate(ctx, store, "cao-bang", plain, t0.Add(3*time.Hour))
	wantCode(t, err, codes.Unauthenticated, "token revoked at 2026-03-01T10:00:00Z")
	if err := store.Revoke("0000000000000000", t0); !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("Revoke(unknown) = %v", err)
	}
}

type brokenStore struct{ err error }

func (b brokenStore) LookupToken(context.Context, string) (Token, error) { return Token{}, b.err }

func TestAuthenticateStoreError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := Authenticate(context.Background(), brokenStore{boom}, "cao-bang", mustToken(t), t0)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap the store error", err)
	}
	if apperr.Status(err, "r1").Code() != codes.Internal {
		t.Fatalf("store failure is not internal: %v", err)
	}
	// A store answering with a token of another id is refused.
	plain, tok, _ := NewToken(RoleAdmin, time.Time{}, "", t0)
	tok.ID = "ffffffffffffffff"
	_, err = Authenticate(context.Background(), wrongIDStore{tok}, "cao-bang", plain, t0)
	wantCode(t, err, codes.Unauthenticated, "token is not valid")
}

type wrongIDStore struct{ t Token }

func (w wrongIDStore) LookupToken(context.Context, string) (Token, error) { return w.t, nil }

func TestMemoryTokensCopies(t *testing.T) {
	_, tok, _ := NewToken(RoleViewer, time.Time{}, "", t0)
	m := NewMemoryTokens(tok)
	got, err := m.LookupToken(context.Background(), tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.Hash[0] ^= 1
	again, _ := m.LookupToken(context.Background(), tok.ID)
	if again.Hash[0] != tok.Hash[0] {
		t.Fatal("LookupToken shares the stored hash")
	}
}

func TestIdentity(t *testing.T) {
	cases := []struct {
		id   Identity
		want string
	}{
		{Identity{Kind: KindUser, Member: "cao-bang", Role: RoleEditor, TokenID: "ab12cd34ef567890"}, "token:ab12cd34ef567890 (editor)"},
		{Peer("nghe-an"), "peer:nghe-an"},
		{Anonymous, "anonymous"},
		{Identity{Kind: 42}, "unknown"},
	}
	for _, c := range cases {
		if got := c.id.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
	ctx := context.Background()
	if id, ok := FromContext(ctx); ok || id != Anonymous {
		t.Fatalf("empty context gives %v, %v", id, ok)
	}
	p := Peer("mofa")
	if id, ok := FromContext(WithIdentity(ctx, p)); !ok || id != p {
		t.Fatalf("FromContext = %v, %v", id, ok)
	}
}
