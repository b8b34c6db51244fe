package auth

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryTokens is a TokenStore kept in memory, for tests and demos. The zero
// value is ready to use and it is safe for concurrent use.
type MemoryTokens struct {
	mu     sync.RWMutex
	tokens map[string]Token
}

// NewMemoryTokens returns a store holding tokens.
func NewMemoryTokens(tokens ...Token) *MemoryTokens {
	m := &MemoryTokens{}
	for _, t := range tokens {
		if err := m.Add(t); err != nil {
			panic(err) // test set-up error
		}
	}
	return m
}

// Add stores t; an id already present is an error.
func (m *MemoryTokens) Add(t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = make(map[string]Token)
	}
	if _, ok := m.tokens[t.ID]; ok {
		return fmt.Errorf("token %s already exists", t.ID)
	}
	t.Hash = bytes.Clone(t.Hash)
	m.tokens[t.ID] = t
	return nil
}

// Revoke marks token id revoked at time at; revoking twice keeps the first time.
func (m *MemoryTokens) Revoke(id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok {
		return fmt.Errorf("token %s: %w", id, ErrTokenNotFound)
	}
	if t.RevokeTime.IsZero() {
		t.RevokeTime = at
		m.tokens[id] = t
	}
	return nil
}

// LookupToken implements TokenStore.
func (m *MemoryTokens) LookupToken(ctx context.Context, id string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.tokens[id]
	if !ok {
		return Token{}, fmt.Errorf("token %s: %w", id, ErrTokenNotFound)
	}
	t.Hash = bytes.Clone(t.Hash)
	return t, nil
}
