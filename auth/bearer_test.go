package auth

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

func TestBearerFromMetadata(t *testing.T) {
	const tok = "pvx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	good := map[string]string{
		"Bearer " + tok:        tok,
		"bearer " + tok:        tok,
		"BEARER " + tok:        tok,
		"Bearer   " + tok:      tok,
		"Bearer\t" + tok:       tok,
		" Bearer " + tok + " ": tok,
		"Bearer x":             "x", // not parsed here
	}
	for v, want := range good {
		got, ok, err := BearerFromMetadata(metadata.Pairs("Authorization", v))
		if err != nil || !ok || got != want {
			t.Errorf("%q: got %q, %v, %v; want %q", v, got, ok, err, want)
		}
	}

	if got, ok, err := BearerFromMetadata(metadata.MD{}); got != "" || ok || err != nil {
		t.Errorf("no header: %q, %v, %v", got, ok, err)
	}
	if got, ok, err := BearerFromMetadata(nil); got != "" || ok || err != nil {
		t.Errorf("nil metadata: %q, %v, %v", got, ok, err)
	}

	bad := map[string]string{
		"":                                     "has no token",
		"Bearer":                               "has no token",
		"Bearer ":                              "has no token",
		"bearer\t":                             "has no token",
		tok:                                    "not a bearer credential",
		"Basic dXNlcjpwYXNz":                   `scheme "Basic" is not supported`,
		"Bearertoken " + tok:                   "is not supported",
		"Bearer a b":                           "contains a space",
		"Bearer a\x00":                         "printable ASCII",
		"Bearer tök":                           "printable ASCII",
		"Bearer " + string(make([]byte, 2000)): "bytes long",
	}
	for v, msg := range bad {
		got, ok, err := BearerFromMetadata(metadata.Pairs("authorization", v))
		if got != "" || !ok {
			t.Errorf("%q: got %q, %v", v, got, ok)
		}
		wantCode(t, err, codes.Unauthenticated, msg)
	}

	md := metadata.Pairs("authorization", "Bearer a", "authorization", "Bearer b")
	_, ok, err := BearerFromMetadata(md)
	if !ok {
		t.Error("two values: not reported present")
	}
	wantCode(t, err, codes.Unauthenticated, "2 authorization values were sent; send exactly one")
}
