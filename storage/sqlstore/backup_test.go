package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

func writeAgreement(ctx context.Context, db *sqlstore.DB, id string) error {
	name := "provinces/cao-bang/agreements/" + id
	_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name,
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: name, DisplayName: "backup " + id}, nil
		}})
	return err
}

// TestBackupUnderWritesIsConsistent copies a store while a writer keeps
// committing: the copy is one file that opens on its own, holds every write
// acknowledged before the backup began, and its log verifies in full
// against the node's key up to the head Backup reported.
func TestBackupUnderWritesIsConsistent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pub, sign, _ := ed25519.GenerateKey(nil)
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "provex.db"), "cao-bang", sqlstore.Options{Key: sign})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var (
		acked atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
		werr  error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if werr = writeAgreement(ctx, db, fmt.Sprintf("w%05d", i)); werr != nil {
				return
			}
			acked.Store(int64(i + 1))
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for acked.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := acked.Load()
	out := filepath.Join(dir, "backup.db")
	info, err := sqlstore.Backup(ctx, filepath.Join(dir, "provex.db"), out)
	after := acked.Load()
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if werr != nil {
		t.Fatal(werr)
	}
	if before < 200 {
		t.Fatalf("only %d writes before the backup", before)
	}
	if info.Member != "cao-bang" || len(info.Heads) != 1 || info.Heads[0].Origin != "cao-bang" {
		t.Fatalf("backup info %+v", info)
	}
	if seq := info.Heads[0].Seq; seq < uint64(before) || seq > uint64(after)+1 {
		t.Fatalf("backup head %d, want between the %d writes acknowledged before it and the %d after", seq, before, after)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() != info.Bytes || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want %d bytes, mode 0600", fi, err, info.Bytes)
	}
	for _, f := range []string{out + "-wal", out + "-shm"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("%s beside the backup: %v (the copy must be one file)", f, err)
		}
	}

	cp, err := sqlstore.Open(ctx, out, "", sqlstore.Options{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if cp.Member() != "cao-bang" {
		t.Fatalf("copy belongs to %q", cp.Member())
	}
	head, err := cp.Head(ctx)
	if err != nil || head.Seq != info.Heads[0].Seq {
		t.Fatalf("copy's head %d (%v), Backup said %d", head.Seq, err, info.Heads[0].Seq)
	}
	res, err := cp.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true)
	if err != nil || len(res.Damaged) != 0 || uint64(res.Checked) != head.Seq {
		t.Fatalf("copy's log: %+v, %v", res, err)
	}
	for i := int64(0); i < before; i++ {
		name := fmt.Sprintf("provinces/cao-bang/agreements/w%05d", i)
		if _, err := cp.Get(ctx, resource.Agreements, name); err != nil {
			t.Fatalf("%s, acknowledged before the backup, is not in it: %v", name, err)
		}
	}
}

func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "provex.db")
	db, err := sqlstore.Open(ctx, src, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAgreement(ctx, db, "a1"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(out, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Backup(ctx, src, out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("backup over an existing file: %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "keep me" {
		t.Fatalf("the refused backup changed the file to %q", got)
	}

	// A stale WAL beside the target would be read into the copy.
	fresh := filepath.Join(dir, "fresh.db")
	if err := os.WriteFile(fresh+"-wal", []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Backup(ctx, src, fresh); err == nil || !strings.Contains(err.Error(), "-wal already exists") {
		t.Fatalf("backup beside a stale -wal: %v, want a refusal", err)
	}

	missing := filepath.Join(dir, "gone", "provex.db")
	if _, err := sqlstore.Backup(ctx, missing, filepath.Join(dir, "b2.db")); err == nil || !strings.Contains(err.Error(), "no database at "+missing) {
		t.Fatalf("backup of a missing database: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Fatalf("backup of a missing database created its directory: %v", err)
	}

	// An SQLite file that is not a node's database is not passed off as a
	// backup.
	other := filepath.Join(dir, "other.db")
	raw, err := sql.Open("sqlite3", "file:"+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := sqlstore.Backup(ctx, other, filepath.Join(dir, "b3.db")); err == nil || !strings.Contains(err.Error(), "not a provex node's database") {
		t.Fatalf("backup of a foreign database: %v", err)
	}
	for _, f := range []string{"b2.db", "b3.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Fatalf("a failed backup left %s: %v", f, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("a failed backup left its temporary file %s", e.Name())
		}
	}
}
