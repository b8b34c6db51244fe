package sqlstore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWALEmptiedOnceReadsEnd: after a withdrawal the writer empties the
// WAL, and while a read holds a snapshot of it (which keeps a checkpoint
// from truncating it) the writer goes on writing and tries again until the
// read has ended.
func TestWALEmptiedOnceReadsEnd(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	defer db.Close()
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	conn, err := db.reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := read.QueryRow("SELECT count(*) FROM changes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	// A run that withdrew a record, as withdraw marks it.
	if err := db.runInWriter(ctx, func(tx *writeTx) error {
		db.wipePending = true
		_, err := tx.Exec("INSERT INTO withdrawn (name, seq) VALUES ('provinces/nghe-an/agreements/x', 1)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if walSize() == 0 {
		t.Fatal("the WAL is empty while a read holds a snapshot of it: the test shows nothing")
	}
	// Writes go on meanwhile.
	if err := db.runInWriter(ctx, func(tx *writeTx) error {
		_, err := tx.Exec("DELETE FROM withdrawn")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := read.Rollback(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); walSize() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the read ended, the WAL still holds %d bytes", walSize())
		}
	}
}
