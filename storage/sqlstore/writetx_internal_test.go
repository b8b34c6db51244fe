package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/provex/provex/internal/pgtest"
)

// TestWriteTxEndsWhatItBegins checks the writer's own transaction
// (writeTx), which runs BEGIN and COMMIT as statements: a run that fails
// leaves nothing written and no transaction open on the connection (the
// next BEGIN would fail), and a statement run through a transaction that
// ended is refused instead of running on its own, outside any
// transaction.
func TestWriteTxEndsWhatItBegins(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "provex.db")
			if backend == "postgres" {
				path = pgtest.NewDatabase(t)
			}
			db, err := Open(ctx, path, "cao-bang", Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			held := func(id string) bool {
				t.Helper()
				var n int
				if err := db.writer.QueryRowContext(ctx, "SELECT count(*) FROM request_ids WHERE request_id = ?", id).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n > 0
			}
			insert := func(tx *writeTx, id string) error {
				_, err := tx.Exec(db.shared.insertRequest, id, "provinces/cao-bang/agreements/a", 1, []byte("f"))
				return err
			}

			refused := errors.New("refused after writing")
			if err := db.runInWriter(ctx, func(tx *writeTx) error {
				if err := insert(tx, "failed"); err != nil {
					return err
				}
				return refused
			}); !errors.Is(err, refused) {
				t.Fatalf("failing run: %v, want %v", err, refused)
			}
			if held("failed") {
				t.Error("a failed run's row was kept")
			}

			var ended *writeTx
			if err := db.runInWriter(ctx, func(tx *writeTx) error {
				ended = tx
				return insert(tx, "kept")
			}); err != nil {
				t.Fatalf("run after a failed one: %v", err)
			}
			if !held("kept") {
				t.Error("a committed run's row is missing")
			}
			if err := insert(ended, "late"); !errors.Is(err, sql.ErrTxDone) {
				t.Errorf("statement through a committed transaction: %v, want %v", err, sql.ErrTxDone)
			}
			if _, err := ended.Query("SELECT 1"); !errors.Is(err, sql.ErrTxDone) {
				t.Errorf("query through a committed transaction: %v, want %v", err, sql.ErrTxDone)
			}
			if held("late") {
				t.Error("a statement through a committed transaction wrote")
			}
		})
	}
}
