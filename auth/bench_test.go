package auth

import (
	"context"
	"testing"
	"time"
)

func BenchmarkAuthorize(b *testing.B) {
	p := DefaultPolicy()
	for b.Loop() {
		if err := p.Authorize(editor, mCreate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	plain, tok, err := NewToken(RoleEditor, time.Time{}, "", t0)
	if err != nil {
		b.Fatal(err)
	}
	store := NewMemoryTokens(tok)
	ctx := context.Background()
	for b.Loop() {
		if _, err := Authenticate(ctx, store, "cao-bang", plain, t0); err != nil {
			b.Fatal(err)
		}
	}
}
