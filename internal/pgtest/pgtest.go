// Package pgtest gives tests an empty PostgreSQL database of their own on
// the server PROVEX_TEST_POSTGRES names (scripts/postgres.sh starts one and
// prints it), for the tests of provex's PostgreSQL store.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Env names the server: a URL of a role that may create databases.
const Env = "PROVEX_TEST_POSTGRES"

// RequireEnv, set to 1, makes a test that would be skipped for want of a
// server fail instead (CI sets it).
const RequireEnv = "PROVEX_REQUIRE_POSTGRES"

// Available reports whether a server is configured.
func Available() bool { return os.Getenv(Env) != "" }

// Skip skips t, or fails it under RequireEnv, when no server is configured.
func Skip(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s is not set, and %s=1: start a server with scripts/postgres.sh", Env, RequireEnv)
	}
	t.Skipf("no PostgreSQL server: set %s (eval \"$(./scripts/postgres.sh)\") to run this test", Env)
}

// NewDatabase makes an empty database for t, dropped when t ends, and
// returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	Skip(t)
	admin := os.Getenv(Env)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "provex_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A name of our own making; CREATE DATABASE takes no parameters.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("create a test database on %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// AlterDatabase runs ALTER DATABASE on target's database with clause (say
// "ALLOW_CONNECTIONS false", or "SET default_transaction_read_only = on"),
// from the server's own database, then ends every other session on
// target's, so that a store's next connections meet the change (a setting
// takes at a session's start).
func AlterDatabase(t testing.TB, target, clause string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	db, err := sql.Open("pgx", os.Getenv(Env))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A name NewDatabase made; ALTER DATABASE takes no parameters.
	if _, err := db.ExecContext(ctx, "ALTER DATABASE "+name+" "+clause); err != nil {
		t.Fatalf("ALTER DATABASE %s %s: %v", name, clause, err)
	}
	// Client sessions only: an autovacuum worker on the database runs as
	// the superuser, whom this role may not end (a CI run failed so).
	if _, err := db.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'", name); err != nil {
		t.Fatalf("end the sessions on %s: %v", name, err)
	}
}

// Admin is the server's URL (Env), of a role that may create databases.
func Admin() string { return os.Getenv(Env) }
