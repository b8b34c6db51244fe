package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/storage/sqlstore"
)

// TestPostgresDeadlockIsUnavailable: another session (a DBA's REINDEX or
// LOCK TABLE of audit, then of the tables a write holds) makes a lock
// cycle with the node's writer, and the server ends the write with a
// deadlock (40P01). It was INTERNAL (an outside review); it is
// UNAVAILABLE saying so, with a retry hint, and the node writes on. A
// serialization failure (40001) is UNAVAILABLE alike.
func TestPostgresDeadlockIsUnavailable(t *testing.T) {
	ctx := context.Background()
	db, target := postgresStoreWithARecord(t)
	admin := openRaw(t, target)
	other := openRaw(t, target)

	// Whichever session's deadlock_timeout passes first is ended, so the
	// other session may be the one ended instead: then again.
	var writeErr error
	for try := 0; ; try++ {
		if try == 5 {
			t.Fatal("the writer was never the one the server ended in a deadlock")
		}
		writeErr = deadlockAWrite(t, db, admin, other, fmt.Sprintf("deadlocked-%d", try))
		var pe *pgconn.PgError
		if errors.As(writeErr, &pe) && pe.Code == "40P01" {
			break
		}
		if writeErr != nil {
			t.Fatalf("a write in a lock cycle: %v, want SQLSTATE 40P01 or none", writeErr)
		}
	}
	err := db.Failure(ctx, writeErr)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "deadlock with another session") {
		t.Errorf("a write the server ended in a deadlock: %v, want UNAVAILABLE saying so", err)
	}
	if d := apperr.RetryDelay(status.Convert(err)); d <= 0 {
		t.Errorf("a write the server ended in a deadlock asks its caller to wait %v, want a retry hint", d)
	}
	if plain := db.Plainly(writeErr); !strings.Contains(plain, "deadlock") || !strings.Contains(plain, "SQLSTATE 40P01") {
		t.Errorf("a deadlock said plainly: %q", plain)
	}
	if err := writeAgreement(ctx, db, "after"); err != nil {
		t.Errorf("a write after the deadlock: %v", err)
	}

	// A serialization failure, of two sessions updating one row under
	// REPEATABLE READ.
	if _, err := admin.Exec("CREATE TABLE serialized (n int); INSERT INTO serialized VALUES (0)"); err != nil {
		t.Fatal(err)
	}
	first, err := admin.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback()
	second, err := other.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Rollback()
	for _, tx := range []*sql.Tx{first, second} {
		if _, err := tx.Exec("SELECT n FROM serialized"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.Exec("UPDATE serialized SET n = n + 1"); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	_, serialization := second.Exec("UPDATE serialized SET n = n + 1")
	if pe := (*pgconn.PgError)(nil); !errors.As(serialization, &pe) || pe.Code != "40001" {
		t.Fatalf("the second update: %v, want SQLSTATE 40001", serialization)
	}
	if err := db.Failure(ctx, serialization); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "serialization conflict") {
		t.Errorf("a serialization failure: %v, want UNAVAILABLE saying so", err)
	}
}

// deadlockAWrite writes id while other holds audit locked, and once the
// writer waits for it, has other ask for the tables the writer holds. It
// returns the write's error (the writer ended in the deadlock), or nil
// (other was).
func deadlockAWrite(t *testing.T, db *sqlstore.DB, admin, other *sql.DB, id string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- writeAgreement(ctx, db, id) }()
	waitFor(t, admin, "the writer waiting for audit", "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.application_name = 'provex'")
	if _, err := tx.Exec("LOCK TABLE changes, agreements IN ACCESS EXCLUSIVE MODE"); err != nil {
		if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "40P01" {
			t.Fatalf("the other session asking for the writer's tables: %v", err)
		}
	}
	tx.Rollback()
	return <-written
}

// waitFor waits until query, a count, is above 0.
func waitFor(t *testing.T, db *sql.DB, what, query string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n int
		if err := db.QueryRow(query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
	}
}

// TestPostgresCancelIsNotATimeout: a DBA cancels the writer's statement
// (pg_cancel_backend) while it waits for a table another session holds
// locked. It was answered "did not answer in time (its statement_timeout
// ...)" and logged as a timeout (an outside review): PostgreSQL gives both
// 57014, its message tells them apart. The cancel is UNAVAILABLE saying
// another session asked; a statement past its statement_timeout still
// says it did not answer in time.
func TestPostgresCancelIsNotATimeout(t *testing.T) {
	ctx := context.Background()
	db, target := postgresStoreWithARecord(t)
	admin := openRaw(t, target)
	other := openRaw(t, target)
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tx, err := other.BeginTx(callCtx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("LOCK TABLE agreements IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- writeAgreement(callCtx, db, "cancelled") }()
	const waiting = "FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'provex' AND wait_event_type = 'Lock'"
	waitFor(t, admin, "the writer waiting for agreements", "SELECT count(*) "+waiting)
	if _, err := admin.Exec("SELECT pg_cancel_backend(pid) " + waiting); err != nil {
		t.Fatal(err)
	}
	cancelled := <-written
	tx.Rollback()
	err = db.Failure(callCtx, cancelled)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "at another session's request") || strings.Contains(err.Error(), "timeout") {
		t.Errorf("a write another session cancelled: %v, want UNAVAILABLE saying another session asked, not a timeout", err)
	}
	if plain := db.Plainly(cancelled); !strings.Contains(plain, "at another session's request") {
		t.Errorf("a cancelled write said plainly: %q", plain)
	}
	if err := writeAgreement(ctx, db, "after"); err != nil {
		t.Errorf("a write after the cancel: %v", err)
	}

	_, timedOut := admin.ExecContext(ctx, "SET statement_timeout = 1; SELECT pg_sleep(1)")
	err = db.Failure(ctx, timedOut)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "did not answer in time (its statement_timeout)") || strings.Contains(err.Error(), "another session") {
		t.Errorf("a statement past its statement_timeout: %v, want UNAVAILABLE saying the server did not answer in time", err)
	}
}

// TestPostgresWriterWaitsForItsPreviousSession: the writer's session is
// lost (the node's end of its connection closed) while the server's
// process of it has not exited yet and still holds the writer's lock, as
// a session pg_terminate_backend ended does for a moment, longer under
// load. The writer's next session was refused, "another provex node is
// writing to database" (an outside review: 19 writes of 150 ends): it
// waits for its own previous session to go, and writes. If that session
// outlasts the wait, the write is UNAVAILABLE saying the node's own
// previous session still holds the lock, not another node.
func TestPostgresWriterWaitsForItsPreviousSession(t *testing.T) {
	ctx := context.Background()
	through, target, link := postgresThroughLink(t)
	db, err := sqlstore.Open(ctx, through, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := writeAgreement(ctx, db, "before"); err != nil {
		t.Fatal(err)
	}
	admin := openRaw(t, target)
	const writers = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'provex'"
	notAnotherNode := func(what string, err error) {
		t.Helper()
		if err != nil && strings.Contains(err.Error(), "another provex node") {
			t.Errorf("%s: %v, while the lock's holder is the node's own previous session", what, err)
		}
	}

	// The previous session goes once the writer's next one has asked.
	free := link.strand()
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var n int
			if admin.QueryRow(writers).Scan(&n) == nil && n > 1 {
				break
			}
		}
		free()
	}()
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The first write may meet the lost connection (the server away).
	for try := 0; ; try++ {
		err := db.Failure(callCtx, writeAgreement(callCtx, db, fmt.Sprintf("after-loss-%d", try)))
		notAnotherNode(fmt.Sprintf("a write, try %d, the previous session ending", try), err)
		if err == nil {
			break
		}
		if try == 2 {
			t.Fatalf("the writer does not write once its previous session is gone: %v", err)
		}
	}

	// The previous session outlasts the wait.
	free = link.strand()
	var stillEnding error
	for try := range 3 {
		err := db.Failure(callCtx, writeAgreement(callCtx, db, fmt.Sprintf("still-ending-%d", try)))
		notAnotherNode(fmt.Sprintf("a write, try %d, the previous session still there", try), err)
		if err == nil {
			t.Fatalf("a write, try %d, while the previous session holds the lock: stored", try)
		}
		if strings.Contains(err.Error(), "cannot write now") {
			stillEnding = err
			break
		}
	}
	if stillEnding == nil || status.Code(stillEnding) != codes.Unavailable || !strings.Contains(stillEnding.Error(), "the node's own previous session") {
		t.Errorf("a write while the previous session holds the lock: %v, want UNAVAILABLE saying the node's own previous session holds it", stillEnding)
	}
	free()
	var stored bool
	for try := 0; try < 3 && !stored; try++ {
		err := writeAgreement(callCtx, db, fmt.Sprintf("after-end-%d", try))
		notAnotherNode("a write once the previous session ended", err)
		stored = err == nil
	}
	if !stored {
		t.Error("the writer does not write once its previous session ended")
	}
}
