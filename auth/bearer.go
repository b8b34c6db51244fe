package auth

import (
	"github.com/provex/provex/internal/apperr"
	"strings"

	"google.golang.org/grpc/metadata"
)

// AuthorizationKey is the metadata key (and, through grpc-gateway, the HTTP
// header) carrying the bearer token.
const AuthorizationKey = "authorization"

// maxAuthorizationLen bounds what is looked at; a real header is about 71 bytes.
const maxAuthorizationLen = 1024

// BearerFromMetadata reads "authorization: Bearer <token>" from incoming
// metadata. The scheme's letter case is ignored. With no authorization entry
// it returns "", false, nil (an anonymous caller); with one that is not a
// single well-formed bearer credential it returns "", true and an
// UNAUTHENTICATED error. The token itself is not parsed: see ParseToken.
//
// More than one authorization value is refused rather than picking one, so
// no second header (or metadata entry) can stand beside the one checked.
func BearerFromMetadata(md metadata.MD) (string, bool, error) {
	vals := md.Get(AuthorizationKey)
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, apperr.Unauthenticated("%d authorization values were sent; send exactly one: 'authorization: Bearer <token>'", len(vals))
	}
	v := vals[0]
	if len(v) > maxAuthorizationLen {
		return "", true, apperr.Unauthenticated("authorization value is %d bytes long; send 'authorization: Bearer <token>'", len(v))
	}
	v = strings.Trim(v, " \t")
	sp := strings.IndexAny(v, " \t")
	if sp < 0 {
		// Only a word: either a scheme without a token or a token without
		// the scheme.
		if strings.EqualFold(v, "bearer") || v == "" {
			return "", true, apperr.Unauthenticated("authorization has no token; send 'authorization: Bearer <token>'")
		}
		return "", true, apperr.Unauthenticated("authorization is not a bearer credential; send 'authorization: Bearer <token>'")
	}
	scheme, tok := v[:sp], v[sp:]
	if !strings.EqualFold(scheme, "bearer") {
		return "", true, apperr.Unauthenticated("authorization scheme %q is not supported; send 'authorization: Bearer <token>'", printable(scheme))
	}
	tok = strings.TrimLeft(tok, " \t")
	if tok == "" {
		return "", true, apperr.Unauthenticated("authorization has no token; send 'authorization: Bearer <token>'")
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return "", true, apperr.Unauthenticated("bearer token contains a space or a character outside printable ASCII")
		}
	}
	return tok, true, nil
}

// printable shortens s and keeps only printable ASCII, for echoing caller
// input in an error message.
func printable(s string) string {
	const limit = 20
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < limit; i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	if len(s) > limit {
		b.WriteString("…")
	}
	return b.String()
}
