package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Token format: "pvx_" + 16 lowercase hex digits (the id, 8 random bytes) +
// "_" + 43 base64url characters without padding (the secret, 32 random bytes).
const (
	TokenPrefix = "pvx_"
	// TokenLen is the length of every token in characters.
	TokenLen = len(TokenPrefix) + tokenIDLen + 1 + secretTextLen

	tokenIDBytes  = 8
	tokenIDLen    = 2 * tokenIDBytes
	secretBytes   = 32
	secretTextLen = 43 // base64.RawURLEncoding.EncodedLen(secretBytes)

	// MaxLabelLen bounds a token's label in bytes.
	MaxLabelLen = 200
)

// secretEncoding rejects non-zero trailing bits, so that one secret has
// exactly one spelling and a parsed token formats back to the same string.
var secretEncoding = base64.RawURLEncoding.Strict()

// Token is a token as a node stores it: the plaintext secret is shown once, at
// creation, and only its SHA-256 hash is kept.
type Token struct {
	ID         string    // 16 lowercase hex digits; not secret (shown in logs and audit entries)
	Hash       []byte    // SHA-256 of the 32 secret bytes
	Role       Role      // what the token may do
	Label      string    // free text naming its holder or purpose
	CreateTime time.Time // when it was made
	ExpireTime time.Time // when it stops working; zero means never
	RevokeTime time.Time // when it was revoked; zero means not revoked
}

// ErrTokenNotFound is what a TokenStore returns for an id it does not hold.
var ErrTokenNotFound = errors.New("auth: token not found")

// TokenStore finds the stored form of a token by its id.
type TokenStore interface {
	// LookupToken returns the token with this id, or an error wrapping
	// ErrTokenNotFound when there is none.
	LookupToken(ctx context.Context, id string) (Token, error)
}

// NewToken makes a token for role that stops working at expires (zero:
// never). It returns the plaintext, to be shown once to whoever asked for it,
// and the Token to store.
func NewToken(role Role, expires time.Time, label string, now time.Time) (string, Token, error) {
	if !role.Valid() {
		return "", Token{}, fmt.Errorf("unknown role %q: want viewer, editor or admin", role)
	}
	if !expires.IsZero() && !expires.After(now) {
		return "", Token{}, fmt.Errorf("expiry %s is not after the creation time %s",
			expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	// A store keeps the expiry as int64 nanoseconds, as it keeps every
	// time: one past 2262 came back as 1734, the token made expired.
	if expires.After(filter.MaxTimestamp) {
		return "", Token{}, fmt.Errorf("expiry %s is after %s, the last time a node keeps: leave it out for a token that lasts until revoked",
			expires.UTC().Format(time.RFC3339), filter.MaxTimestamp.Format(time.RFC3339))
	}
	if err := checkLabel(label); err != nil {
		return "", Token{}, err
	}
	var idb [tokenIDBytes]byte
	var secret [secretBytes]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", Token{}, fmt.Errorf("token id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Token{}, fmt.Errorf("token secret: %w", err)
	}
	id := hex.EncodeToString(idb[:])
	sum := sha256.Sum256(secret[:])
	t := Token{
		ID:         id,
		Hash:       sum[:],
		Role:       role,
		Label:      label,
		CreateTime: now,
		ExpireTime: expires,
	}
	return FormatToken(id, secret[:]), t, nil
}

func checkLabel(label string) error {
	if len(label) > MaxLabelLen {
		return fmt.Errorf("label is %d bytes long; at most %d are allowed", len(label), MaxLabelLen)
	}
	if !utf8.ValidString(label) {
		return errors.New("label is not valid UTF-8")
	}
	if strings.IndexFunc(label, unicode.IsControl) >= 0 {
		return errors.New("label contains control characters")
	}
	return nil
}

// FormatToken spells a token from its id and secret; it is the inverse of
// ParseToken. It does not check its arguments.
func FormatToken(id string, secret []byte) string {
	return TokenPrefix + id + "_" + secretEncoding.EncodeToString(secret)
}

// ParseToken splits a plaintext token into its id and secret. It accepts
// exactly the tokens NewToken makes: the "pvx_" prefix, 16 lowercase hex
// digits, "_", and 43 base64url characters. Errors are UNAUTHENTICATED.
func ParseToken(s string) (id string, secret []byte, err error) {
	const want = "want pvx_<16 hex digits>_<43 base64url characters>"
	if len(s) != TokenLen {
		return "", nil, apperr.Unauthenticated("malformed bearer token: it has %d characters, %s", len(s), want)
	}
	if !strings.HasPrefix(s, TokenPrefix) {
		return "", nil, apperr.Unauthenticated("malformed bearer token: it does not start with %q; %s", TokenPrefix, want)
	}
	rest := s[len(TokenPrefix):]
	id, sec := rest[:tokenIDLen], rest[tokenIDLen:]
	if sec[0] != '_' {
		return "", nil, apperr.Unauthenticated("malformed bearer token: no '_' after the id; %s", want)
	}
	sec = sec[1:]
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", nil, apperr.Unauthenticated("malformed bearer token: the id is not 16 lowercase hex digits; %s", want)
		}
	}
	secret, derr := secretEncoding.DecodeString(sec)
	if derr != nil || len(secret) != secretBytes {
		return "", nil, apperr.Unauthenticated("malformed bearer token: the secret is not 43 base64url characters; %s", want)
	}
	return id, secret, nil
}

// Check decides whether secret opens t at time now. The hash comparison takes
// constant time. A wrong secret gives "token is not valid", the same answer
// as an unknown id (see Authenticate), so a caller learns nothing about which
// ids exist; a right secret for a revoked or expired token says so and when.
// All errors are UNAUTHENTICATED.
func (t Token) Check(secret []byte, now time.Time) error {
	sum := sha256.Sum256(secret)
	if len(t.Hash) != sha256.Size || subtle.ConstantTimeCompare(sum[:], t.Hash) != 1 {
		return apperr.Unauthenticated(msgBadToken)
	}
	if !t.RevokeTime.IsZero() {
		return apperr.Unauthenticated("token revoked at %s", t.RevokeTime.UTC().Format(time.RFC3339))
	}
	if !t.ExpireTime.IsZero() && !now.Before(t.ExpireTime) {
		return apperr.Unauthenticated("token expired at %s", t.ExpireTime.UTC().Format(time.RFC3339))
	}
	if !t.Role.Valid() {
		return apperr.Unauthenticated(msgBadToken)
	}
	return nil
}

// dummyHash is compared against when the id is unknown, so that an unknown id
// costs about as much as a wrong secret.
var dummyHash = func() []byte { s := sha256.Sum256([]byte("provex: no such token")); return s[:] }()

// Authenticate turns a plaintext bearer token into the Identity of a user of
// node member: it parses the token, looks its id up in store and checks the
// secret, revocation and expiry at now. Token problems are UNAUTHENTICATED;
// an error from the store other than ErrTokenNotFound is returned wrapped, as
// an internal error.
func Authenticate(ctx context.Context, store TokenStore, member, bearer string, now time.Time) (Identity, error) {
	id, secret, err := ParseToken(bearer)
	if err != nil {
		return Identity{}, err
	}
	t, err := store.LookupToken(ctx, id)
	if errors.Is(err, ErrTokenNotFound) {
		_ = Token{Hash: dummyHash}.Check(secret, now) // for the timing only
		return Identity{}, apperr.Unauthenticated(msgBadToken)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("looking up token %s: %w", id, err)
	}
	if t.ID != id {
		// A store that answers with another token is broken; refuse.
		return Identity{}, apperr.Unauthenticated(msgBadToken)
	}
	if err := t.Check(secret, now); err != nil {
		return Identity{}, err
	}
	return User(member, t), nil
}
