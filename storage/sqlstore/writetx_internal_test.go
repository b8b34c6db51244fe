package sqlstore

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
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
			db, held, insert := openForWriteTx(t, backend)
			defer db.Close()

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

// TestWriteTxClosesWhatARunLeftOpen checks that rows a run left open do not
// stop the writer: its connection cannot go back to the pool while rows of
// it are open, and database/sql's Tx closed them at its end; writeTx does.
func TestWriteTxClosesWhatARunLeftOpen(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			// Not closed if the writer is stuck: Close would wait for it.
			db, held, insert := openForWriteTx(t, backend)
			done := make(chan error, 1)
			go func() {
				done <- db.runInWriter(ctx, func(tx *writeTx) error {
					if _, err := tx.Query("SELECT request_id FROM request_ids"); err != nil {
						return err
					}
					return insert(tx, "beside open rows")
				})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the writer is stuck after a run that left rows open")
			}
			if err := db.runInWriter(ctx, func(tx *writeTx) error { return insert(tx, "next") }); err != nil {
				t.Fatalf("write after the run: %v", err)
			}
			if !held("beside open rows") || !held("next") {
				t.Error("a committed run's row is missing")
			}
			db.Close()
		})
	}
}

// TestWriteTxCommitOfAnAbortedTransactionFails checks a run that met an
// error it did not return: PostgreSQL aborts the transaction and answers
// its COMMIT with the tag ROLLBACK, not an error. The run must fail, not
// be reported stored with nothing stored.
func TestWriteTxCommitOfAnAbortedTransactionFails(t *testing.T) {
	ctx := context.Background()
	db, held, insert := openForWriteTx(t, "postgres")
	defer db.Close()
	err := db.runInWriter(ctx, func(tx *writeTx) error {
		if err := insert(tx, "aborted"); err != nil {
			return err
		}
		if _, err := tx.Exec("SELECT 1/0"); err == nil {
			t.Error("division by zero: no error")
		}
		return nil
	})
	if err == nil {
		t.Error("a run whose transaction PostgreSQL aborted was reported committed")
	}
	if held("aborted") {
		t.Error("an aborted transaction's row is stored")
	}
	if err := db.runInWriter(ctx, func(tx *writeTx) error { return insert(tx, "next") }); err != nil || !held("next") {
		t.Errorf("write after the aborted one: %v, stored %v", err, held("next"))
	}
}

// TestWriteTxCommitThatFailsStoresNothing makes the COMMIT itself fail (a
// deferred foreign key, checked only then) under a batch that holds a
// record write: the write is refused, none of the batch is stored, the
// writer goes on, and the node's log and in-memory head agree, before and
// after the store is opened again.
func TestWriteTxCommitThatFailsStoresNothing(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, path, key := openKeyed(t, backend)
			defer func() { db.Close() }()
			for _, q := range []string{"CREATE TABLE parents (id INTEGER PRIMARY KEY)",
				"CREATE TABLE children (parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)"} {
				if _, err := db.writer.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			write := func(db *DB, id string) error {
				name := "provinces/cao-bang/agreements/" + id
				a := &twinningv1.Agreement{Name: name, DisplayName: "lychee " + id, PartnerCountries: []string{"CN"}}
				_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name,
					Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return a, nil }})
				return err
			}
			agree := func(db *DB) {
				t.Helper()
				var stored sql.NullInt64
				if err := db.reader.QueryRowContext(ctx, "SELECT max(seq) FROM changes WHERE origin = 'cao-bang'").Scan(&stored); err != nil {
					t.Fatal(err)
				}
				if head := db.currentHead().Seq; uint64(stored.Int64) != head {
					t.Errorf("in-memory head %d, stored log ends at %d", head, stored.Int64)
				}
				res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, true)
				if err != nil || len(res.Damaged) > 0 {
					t.Errorf("own log: %+v, %v", res.Damaged, err)
				}
			}
			if err := write(db, "first"); err != nil {
				t.Fatal(err)
			}

			// Hold the writer so that the record write and the run join
			// one batch, in one transaction.
			release, holding, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				held <- db.runInWriter(ctx, func(*writeTx) error { close(holding); <-release; return nil })
			}()
			<-holding
			wrote := make(chan error, 1)
			go func() { wrote <- write(db, "refused") }()
			for len(db.queue) < 1 {
				time.Sleep(time.Millisecond)
			}
			ran := make(chan error, 1)
			go func() {
				ran <- db.runInWriter(ctx, func(tx *writeTx) error {
					_, err := tx.Exec("INSERT INTO children (parent) VALUES (42)")
					return err
				})
			}()
			for len(db.queue) < 2 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			if err := <-held; err != nil {
				t.Fatal(err)
			}
			if err := <-wrote; err == nil {
				t.Error("a write whose commit failed was acknowledged")
			}
			if err := <-ran; err == nil {
				t.Error("a run whose commit failed succeeded")
			}
			var children, rows int
			if err := db.reader.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM children), (SELECT count(*) FROM agreements WHERE name LIKE '%/refused')").Scan(&children, &rows); err != nil {
				t.Fatal(err)
			}
			if children != 0 || rows != 0 {
				t.Errorf("after the failed commit: %d children, %d rows of the refused write", children, rows)
			}
			if err := write(db, "next"); err != nil {
				t.Fatalf("write after the failed commit: %v", err)
			}
			agree(db)
			db = reopenKeyed(t, db, path, key)
			agree(db)
			if err := write(db, "after reopening"); err != nil {
				t.Errorf("write after reopening: %v", err)
			}
		})
	}
}

// openKeyed opens a store of cao-bang with a node key on backend
// ("sqlite", or "postgres" when a server is configured), and returns it
// with its location, to open again, and its key. The caller closes it.
func openKeyed(t *testing.T, backend string) (*DB, string, ed25519.PrivateKey) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "provex.db")
	if backend == "postgres" {
		path = pgtest.NewDatabase(t)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	db, err := Open(context.Background(), path, "cao-bang", Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return db, path, key
}

// reopenKeyed closes db, a store openKeyed opened, and opens it again.
func reopenKeyed(t *testing.T, db *DB, path string, key ed25519.PrivateKey) *DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := Open(context.Background(), path, "cao-bang", Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return reopened
}

// openForWriteTx opens a store on backend ("sqlite", or "postgres" when
// a server is configured) and gives a check and a write of a request id.
// The caller closes it.
func openForWriteTx(t *testing.T, backend string) (*DB, func(id string) bool, func(tx *writeTx, id string) error) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, NewLocation(t, backend), "cao-bang", Options{})
	if err != nil {
		t.Fatal(err)
	}
	held := func(id string) bool {
		t.Helper()
		var n int
		if err := db.reader.QueryRowContext(ctx, "SELECT count(*) FROM request_ids WHERE request_id = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	insert := func(tx *writeTx, id string) error {
		_, err := tx.Exec(db.shared.insertRequest, id, "provinces/cao-bang/agreements/a", 1, []byte("f"))
		return err
	}
	return db, held, insert
}
