package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/internal/sqlitetest"
	"github.com/provex/provex/storage/sqlstore"
)

// TestCopyStoreLeavesTheSourceAsItWas: a copy opened its SQLite source as
// a store, which upgraded an older backup's schema (an older release could
// no longer roll back to it), switched a backup to WAL mode, gathered
// statistics and left a -lock file beside it, while migrate-store said
// "the source is unchanged" (an outside review). The source is now read
// through a snapshot made elsewhere: a stopped node's file, its backup and
// an older schema's backup keep every byte, nothing is left beside them or
// in the temporary directory, and each copy is whole.
func TestCopyStoreLeavesTheSourceAsItWas(t *testing.T) {
	ctx := context.Background()
	node := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, node, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := writeAgreement(ctx, db, fmt.Sprintf("a%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	current := filepath.Join(t.TempDir(), "backup.db")
	if _, err := sqlstore.Backup(ctx, node, current); err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(t.TempDir(), "backup.db")
	if _, err := sqlstore.Backup(ctx, node, older); err != nil {
		t.Fatal(err)
	}
	// As a release one migration before this binary's made it (migration
	// 26 only queues kinds for re-indexing).
	sqlitetest.Exec(t, older, "PRAGMA user_version = 25")

	// A PostgreSQL destination's snapshot goes in the OS temporary
	// directory, a SQLite destination's beside the new file.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, c := range []struct{ name, from, to string }{
		{"a stopped node's file", node, pgtest.NewDatabase(t)},
		{"a backup", current, pgtest.NewDatabase(t)},
		{"an older schema's backup", older, pgtest.NewDatabase(t)},
		{"a backup into a file", current, filepath.Join(t.TempDir(), "copy.db")},
	} {
		sum, files := fileState(t, c.from)
		info, err := sqlstore.CopyStore(ctx, c.from, c.to)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if info.Member != "cao-bang" || len(info.Heads) != 1 || info.Heads[0].Seq != 30 || info.Rows < 60 {
			t.Errorf("%s: the copy: %+v", c.name, info)
		}
		if sumAfter, filesAfter := fileState(t, c.from); sumAfter != sum || !slices.Equal(filesAfter, files) {
			t.Errorf("%s: the source changed: sha256 %x, files %v; before: %x, %v", c.name, sumAfter, filesAfter, sum, files)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%s: left in the temporary directory: %v", c.name, left)
		}
	}
	var version int
	sqlitetest.QueryRow(t, older, "PRAGMA user_version", &version)
	if version != 25 {
		t.Errorf("the older backup's schema is %d after the copy, want 25", version)
	}
}

// fileState is the sha256 of the file at path and the names of the files
// in its directory.
func fileState(t *testing.T, path string) (sum [32]byte, files []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files = append(files, e.Name())
	}
	return sha256.Sum256(b), files
}
