package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// writeTx is a transaction of the writer's connection: BEGIN, the
// statements and COMMIT run one after the other on the connection held for
// it, with no context to watch.
//
// database/sql's Tx watches its context with a goroutine of its own, and
// every query made through it starts one more, which closes the rows
// should that context end first. The writer's transactions end only by
// its own commit or rollback, with every row read by then, so those
// goroutines did nothing but cost: on a machine of 2 cores each start
// woke a thread, and a write of a group commit took 16% longer
// (BenchmarkWrite/c64; BENCHMARKS.md, "The writer's transaction without
// database/sql's Tx").
//
// Statements are passed as their text: the driver keeps the writer's
// compiled statements (SQLite: _stmt_cache_size in dsn; pgx: its
// statement cache), so a text sent again is not parsed again.
//
// What database/sql's Tx did besides, writeTx does too: statements after
// the end are refused (ErrTxDone), rows left open are closed at the end
// (a Conn cannot be given back while rows of it are open: the writer
// would wait forever), and a PostgreSQL COMMIT answered by ROLLBACK fails.
type writeTx struct {
	conn    *sql.Conn
	dialect dialect
	done    bool
	// rows are those Query returned, closed at the end if still open.
	rows []*sql.Rows
	// changes counts the statements run that may have changed the
	// transaction: every one but those of ReadRow that did not fail. A
	// write that fails with it unchanged left nothing to undo (DB.commit).
	changes int
	// headFound says a write found the node's own newest entry held as
	// the node wrote it (DB.headRowMissing).
	headFound bool
}

// beginWriteTx starts a write transaction on conn, which is held for it
// until Commit or Rollback; ctx bounds the BEGIN alone.
func beginWriteTx(ctx context.Context, conn *sql.Conn, d dialect) (*writeTx, error) {
	if _, err := conn.ExecContext(ctx, d.beginWrite()); err != nil {
		return nil, err
	}
	return &writeTx{conn: conn, dialect: d}, nil
}

func (t *writeTx) Exec(query string, args ...any) (sql.Result, error) {
	return t.ExecContext(context.Background(), query, args...)
}

func (t *writeTx) Query(query string, args ...any) (*sql.Rows, error) {
	return t.QueryContext(context.Background(), query, args...)
}

func (t *writeTx) QueryRow(query string, args ...any) *sql.Row {
	return t.QueryRowContext(context.Background(), query, args...)
}

// ReadRow runs a query that changes nothing (a SELECT) and scans its row
// into dest, the one statement that leaves changes as it was if it
// succeeds (or finds no row). One that fails counts: on PostgreSQL a failed
// statement aborts the transaction, which then refuses every other.
func (t *writeTx) ReadRow(dest []any, query string, args ...any) error {
	err := t.conn.QueryRowContext(context.Background(), query, args...).Scan(dest...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.changes++
	}
	return err
}

// The Context forms are for reads that a caller's context may cut short
// (a check of the stored logs): with a context that can end, database/sql
// watches it with a goroutine, as it does in a Tx.

func (t *writeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.done {
		return nil, sql.ErrTxDone
	}
	t.changes++
	return t.conn.ExecContext(ctx, query, args...)
}

func (t *writeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.done {
		return nil, sql.ErrTxDone
	}
	t.changes++
	rows, err := t.conn.QueryContext(ctx, query, args...)
	if err == nil {
		t.rows = append(t.rows, rows)
	}
	return rows, err
}

// QueryRowContext cannot refuse to run once the transaction ended, as
// ExecContext and QueryContext do (a Row's error comes from its query):
// a read after the end would only read, outside any transaction. Its Row
// must be scanned, which closes its rows.
func (t *writeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	t.changes++
	return t.conn.QueryRowContext(ctx, query, args...)
}

// Commit ends the transaction. A COMMIT that fails may leave SQLite's
// transaction open: it is rolled back, so the connection goes back to its
// pool with none, as database/sql's Tx does.
func (t *writeTx) Commit() error {
	if t.done {
		return sql.ErrTxDone
	}
	t.end()
	if err := t.commit(); err != nil {
		t.conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	return nil
}

// Rollback ends the transaction if Commit has not; later calls do nothing.
func (t *writeTx) Rollback() error {
	if t.done {
		return sql.ErrTxDone
	}
	t.end()
	_, err := t.conn.ExecContext(context.Background(), "ROLLBACK")
	return err
}

func (t *writeTx) commit() error {
	if t.dialect.postgres {
		return commitPostgres(t.conn)
	}
	_, err := t.conn.ExecContext(context.Background(), "COMMIT")
	return err
}

// end refuses further statements and closes the rows left open.
func (t *writeTx) end() {
	t.done = true
	t.closeRows()
}

// closeRows closes the rows Query returned that are still open.
func (t *writeTx) closeRows() {
	for _, r := range t.rows {
		r.Close()
	}
	t.rows = nil
}
