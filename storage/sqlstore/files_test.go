package sqlstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/provex/provex/storage/sqlstore"
)

// TestDatabaseFilesAreOwnerOnly: the database, its WAL and shared-memory
// files are 0600 whatever the umask (SQLite alone makes them 0644), and
// wider ones found are tightened with a warning.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "provex.db")
	files := []string{path, path + "-wal", path + "-shm"}
	wantOwnerOnly := func(when string) {
		t.Helper()
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: %s has mode %04o, want 0600", when, filepath.Base(f), m)
			}
		}
	}
	var logs bytes.Buffer
	open := func() *sqlstore.DB {
		t.Helper()
		db, err := sqlstore.Open(context.Background(), path, "cao-bang", sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	wantOwnerOnly("new database")
	if strings.Contains(logs.String(), "owner-only") {
		t.Errorf("a new database was logged as tightened:\n%s", logs.String())
	}
	db.Close()

	// A database left readable by others (an older provex, a copy), with a
	// WAL and shared-memory file to match.
	for _, f := range files[1:] {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = open()
	defer db.Close()
	wantOwnerOnly("reopened database")
	for _, f := range files {
		if !strings.Contains(logs.String(), f) {
			t.Errorf("no warning names %s:\n%s", f, logs.String())
		}
	}
}
