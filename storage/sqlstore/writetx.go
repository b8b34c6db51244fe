package sqlstore

import (
	"context"
	"database/sql"
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
type writeTx struct {
	conn *sql.Conn
	done bool
}

// beginWriteTx starts a write transaction on conn, which is held for it
// until Commit or Rollback.
func beginWriteTx(conn *sql.Conn, d dialect) (*writeTx, error) {
	if _, err := conn.ExecContext(context.Background(), d.beginWrite()); err != nil {
		return nil, err
	}
	return &writeTx{conn: conn}, nil
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

// The Context forms are for reads that a caller's context may cut short
// (a check of the stored logs): with a context that can end, database/sql
// watches it with a goroutine, as it does in a Tx.

func (t *writeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.done {
		return nil, sql.ErrTxDone
	}
	return t.conn.ExecContext(ctx, query, args...)
}

func (t *writeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.done {
		return nil, sql.ErrTxDone
	}
	return t.conn.QueryContext(ctx, query, args...)
}

// QueryRowContext cannot refuse to run once the transaction ended, as
// ExecContext and QueryContext do (a Row's error comes from its query):
// a read after the end would only read, outside any transaction.
func (t *writeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.conn.QueryRowContext(ctx, query, args...)
}

// Commit ends the transaction. A COMMIT that fails may leave SQLite's
// transaction open: it is rolled back, so the connection goes back to its
// pool with none, as database/sql's Tx does.
func (t *writeTx) Commit() error {
	if t.done {
		return sql.ErrTxDone
	}
	t.done = true
	if _, err := t.conn.ExecContext(context.Background(), "COMMIT"); err != nil {
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
	t.done = true
	_, err := t.conn.ExecContext(context.Background(), "ROLLBACK")
	return err
}
