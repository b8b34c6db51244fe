package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/storage/sqlstore"
)

// TestCopyStoreToPostgresAndBack moves a node's store from a SQLite file
// to PostgreSQL and back to a new file: each copy holds the log, verifies
// against the node's key, and goes on at the next sequence number; a
// destination that holds entries is refused and left as it was.
func TestCopyStoreToPostgresAndBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pub, sign, _ := ed25519.GenerateKey(nil)
	file := filepath.Join(dir, "provex.db")
	db, err := sqlstore.Open(ctx, file, "cao-bang", sqlstore.Options{Key: sign})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := writeAgreement(ctx, db, fmt.Sprintf("a%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	url := pgtest.NewDatabase(t)
	back := filepath.Join(dir, "back.db")
	for _, c := range []struct{ from, to string }{{file, url}, {url, back}} {
		info, err := sqlstore.CopyStore(ctx, c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		if info.Member != "cao-bang" || len(info.Heads) != 1 || info.Heads[0].Seq != 30 || info.Rows < 60 {
			t.Fatalf("copy to %s: %+v", c.to, info)
		}
	}
	for _, store := range []string{url, back} {
		db, err := sqlstore.Open(ctx, store, "cao-bang", sqlstore.Options{Key: sign})
		if err != nil {
			t.Fatal(err)
		}
		res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true)
		if err != nil || len(res.Damaged) != 0 || res.BadCheckpoints != 0 || res.Checked != 30 {
			t.Fatalf("%s: verify %+v %v", db.Dialect(), res, err)
		}
		if err := writeAgreement(ctx, db, "after"); err != nil {
			t.Fatalf("%s: write after the copy: %v", db.Dialect(), err)
		}
		origins, err := db.Origins(ctx)
		if err != nil || len(origins) != 1 || origins[0].Seq != 31 {
			t.Fatalf("%s: after one write: %+v %v", db.Dialect(), origins, err)
		}
		db.Close()
	}
	if _, err := sqlstore.CopyStore(ctx, file, url); err == nil || !strings.Contains(err.Error(), "already holds change-log entries") {
		t.Fatalf("copy into a store with entries: %v", err)
	}
	db, err = sqlstore.Open(ctx, url, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if origins, err := db.Origins(ctx); err != nil || len(origins) != 1 || origins[0].Seq != 31 {
		t.Fatalf("the refused copy changed the destination: %+v %v", origins, err)
	}
}
