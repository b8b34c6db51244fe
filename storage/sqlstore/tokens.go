package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/internal/apperr"
)

// Tokens are node-local: they are not in the change log and never sync.
// They are written directly by the writer connection, outside the write
// queue, because they are rare and need no change-log entry.

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOrZero(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// CreateToken stores a token made by auth.NewToken.
func (db *DB) CreateToken(ctx context.Context, t auth.Token) error {
	_, err := db.writer.ExecContext(ctx, "INSERT INTO tokens (id, hash, role, label, create_time, expire_time, revoke_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.Hash, string(t.Role), t.Label, unixOrZero(t.CreateTime), unixOrZero(t.ExpireTime), unixOrZero(t.RevokeTime))
	if err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}

// tokenCacheTTL bounds how long a token read from the database is reused
// without reading it again: every call carries a token, and the read would
// otherwise be a query per call. A revocation made by this process takes
// effect at once; one made by another process (provex token revoke on a
// running node) within this time.
const tokenCacheTTL = time.Second

type cachedToken struct {
	token auth.Token
	read  time.Time
}

// LookupToken implements auth.TokenStore.
func (db *DB) LookupToken(ctx context.Context, id string) (auth.Token, error) {
	db.tokenMu.Lock()
	c, ok := db.tokenCache[id]
	db.tokenMu.Unlock()
	if ok && time.Since(c.read) < tokenCacheTTL {
		return c.token, nil
	}
	t, err := db.lookupToken(ctx, id)
	if err != nil {
		// The server away is UNAVAILABLE to every caller that sends a
		// token: health checks, metrics and the API description answered
		// 500 (an outside review).
		return t, db.Failure(ctx, err)
	}
	db.tokenMu.Lock()
	if db.tokenCache == nil || len(db.tokenCache) > 10000 {
		db.tokenCache = map[string]cachedToken{}
	}
	db.tokenCache[id] = cachedToken{t, time.Now()}
	db.tokenMu.Unlock()
	return t, nil
}

// lookupToken reads on a pool of its own (readPools), which Gets waiting on
// a locked table do not hold.
func (db *DB) lookupToken(ctx context.Context, id string) (auth.Token, error) {
	rows, err := db.tokens.QueryContext(ctx, "SELECT id, hash, role, label, create_time, expire_time, revoke_time FROM tokens WHERE id = ?", id)
	if err != nil {
		return auth.Token{}, err
	}
	tokens, err := scanTokens(rows)
	if err != nil {
		return auth.Token{}, err
	}
	if len(tokens) == 0 {
		return auth.Token{}, fmt.Errorf("token %s: %w", id, auth.ErrTokenNotFound)
	}
	return tokens[0], nil
}

// ListTokens returns every token, newest first.
func (db *DB) ListTokens(ctx context.Context) ([]auth.Token, error) {
	rows, err := db.reader.QueryContext(ctx, "SELECT id, hash, role, label, create_time, expire_time, revoke_time FROM tokens ORDER BY create_time DESC")
	if err != nil {
		return nil, err
	}
	return scanTokens(rows)
}

// RevokeToken makes a token stop working at once; revoking twice keeps the
// first time.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := db.writer.ExecContext(ctx, "UPDATE tokens SET revoke_time = CASE WHEN revoke_time = 0 THEN ? ELSE revoke_time END WHERE id = ?", at.UnixNano(), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.NotFound("no token %q on this node", id)
	}
	db.tokenMu.Lock()
	delete(db.tokenCache, id)
	db.tokenMu.Unlock()
	return nil
}

func scanTokens(rows *sql.Rows) ([]auth.Token, error) {
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		var (
			t                      auth.Token
			role                   string
			created, expires, gone int64
		)
		if err := rows.Scan(&t.ID, &t.Hash, &role, &t.Label, &created, &expires, &gone); err != nil {
			return nil, err
		}
		t.Role = auth.Role(role)
		t.CreateTime, t.ExpireTime, t.RevokeTime = timeOrZero(created), timeOrZero(expires), timeOrZero(gone)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

var _ auth.TokenStore = (*DB)(nil)
