package sqlstore

import (
	"bytes"
	"context"
	"crypto/ecdh"
	crand "crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"google.golang.org/protobuf/proto"
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

// TestWALEmptiedWhileReadsAndWritesGoOn: on a node that reads and writes
// all the time, a read of the WAL is always running; the wipe waits a
// moment for the reads running to end (new ones read the database file,
// as no write commits meanwhile), so the WAL no longer holds a withdrawn
// row's bytes within seconds, while the reads and writes go on. Found by
// an outside review: without the wait the bytes were still there after 6 s.
func TestWALEmptiedWhileReadsAndWritesGoOn(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	defer db.Close()
	secret := []byte("SECRET-TEXT-OF-A-WITHDRAWN-RECORD")
	if err := db.runInWriter(ctx, func(tx *writeTx) error {
		_, err := tx.Exec("INSERT INTO withdrawn (name, seq) VALUES (?, 1)", string(secret))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			for {
				select {
				case <-stop:
					return
				default:
				}
				read, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				read.QueryRow("SELECT count(*) FROM changes").Scan(&n)
				time.Sleep(30 * time.Millisecond)
				read.Rollback()
			}
		}()
	}
	wg.Add(1)
	go func() { // the node's other writes: sync, edits, read audits
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if err := db.runInWriter(ctx, func(tx *writeTx) error {
				_, err := tx.Exec("INSERT INTO withdrawn (name, seq) VALUES ('filler', 1) ON CONFLICT (name) DO UPDATE SET seq = seq + 1")
				return err
			}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if err := db.runInWriter(ctx, func(tx *writeTx) error {
		db.wipePending = true
		_, err := tx.Exec("DELETE FROM withdrawn WHERE name = ?", string(secret))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	holds := func() bool { return databaseHolds(t, path, secret) }
	for deadline := time.Now().Add(5 * time.Second); holds(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("5 s after the withdrawal, with reads and writes going on, the files still hold the withdrawn row's bytes")
		}
	}
}

// TestRebuildThatTakesARecordAwayEmptiesTheWAL: a repair that replaced an
// origin's entries rebuilds its records, and one this node could read
// whose new entry is sealed to others is gone; its old pages leave the WAL
// as after a withdrawal. Found by an outside review: the text stayed in the
// WAL, and in provex.db until an automatic checkpoint.
func TestRebuildThatTakesARecordAwayEmptiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	defer db.Close()
	originKey, _ := ecdh.X25519().GenerateKey(crand.Reader)
	laoCai, _ := ecdh.X25519().GenerateKey(crand.Reader)
	sealer, _ := changelog.NewSealer(originKey)
	keys := changelog.Keys{"nghe-an": originKey.PublicKey(), db.origin: db.sealer.Load().PublicKey(), "lao-cai": laoCai.PublicKey()}
	name := "provinces/nghe-an/agreements/r"
	// logOf is nghe-an's log of one write of m, in a store of its own.
	logOf := func(m proto.Message) []changelog.Entry {
		o, err := Open(ctx, filepath.Join(t.TempDir(), "nghe-an.db"), "nghe-an", Options{Sealer: sealer, Directory: keys})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if _, err := o.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return m, nil }}); err != nil {
			t.Fatal(err)
		}
		es, err := o.Changes(ctx, "nghe-an", 0, 10)
		if err != nil || len(es) != 1 || !es[0].Sealed {
			t.Fatalf("nghe-an's log: %d entries, %v", len(es), err)
		}
		return es
	}
	secret := []byte("REBUILD-SECRET-7731")
	readable := logOf(&twinningv1.Agreement{Name: name, DisplayName: "Rebuilt patrol", Summary: string(secret) + " plan",
		Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"cao-bang"}})
	other := logOf(&twinningv1.Agreement{Name: name, DisplayName: "Other", Summary: "other",
		Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lao-cai"}})
	if _, err := db.ApplyRemote(ctx, readable, changelog.Checkpoint{Origin: "nghe-an", Seq: 1, Hash: readable[0].Hash, Signature: []byte("unchecked by storage")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, resource.Agreements, name); err != nil {
		t.Fatalf("the record sealed to this node: %v", err)
	}
	if _, err := db.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	holds := func() bool { return databaseHolds(t, path, secret) }
	if !holds() {
		t.Fatal("the files do not hold the record's text, so its absence below would prove nothing")
	}
	// The repair's replacing the entry, then the rebuild.
	if err := db.runInWriter(ctx, func(tx *writeTx) error {
		if _, err := tx.Exec("UPDATE changes SET hlc = ?, name = ?, data = ?, sealed = ?, prev_hash = ?, hash = ? WHERE origin = 'nghe-an' AND seq = 1",
			other[0].HLC, "", other[0].Data, 1, other[0].PrevHash, other[0].Hash); err != nil {
			return err
		}
		return db.rebuildOrigin(tx, "nghe-an")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, resource.Agreements, name); err == nil {
		t.Fatal("the record is still read after the rebuild")
	}
	for deadline := time.Now().Add(5 * time.Second); holds(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("5 s after the rebuild took the record away, the files still hold its text")
		}
	}
}

// databaseHolds reports whether the database at path or its WAL holds b.
func databaseHolds(t *testing.T, path string, b []byte) bool {
	t.Helper()
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, b) {
			return true
		}
	}
	return false
}

// TestBesideStoreClosesWithoutWaitingOnTheNodesReads: a tool's store
// opened beside the serving node (provex token, verify) leaves the WAL to
// the node when it closes. Its checkpoint waited for the node's reads, up
// to the busy timeout, holding the WAL's write lock: an outside review saw
// the node's writes stall 3 s, and fail after 10 s.
func TestBesideStoreClosesWithoutWaitingOnTheNodesReads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	node := openAt(t, path)
	defer node.Close()
	writeRecord(t, node, &twinningv1.Partnership{Name: "provinces/cao-bang/partnerships/p1", DisplayName: "Kết nghĩa"})
	read, err := node.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer read.Rollback()
	var n int
	if err := read.QueryRow("SELECT count(*) FROM changes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	tool, err := Open(ctx, path, "cao-bang", Options{Beside: true})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- tool.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the tool's store has not closed in 5 s while the node holds a read")
	}
	writeRecord(t, node, &twinningv1.Partnership{Name: "provinces/cao-bang/partnerships/p2", DisplayName: "Hữu nghị"})
}
