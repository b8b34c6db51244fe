package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/provex/provex/internal/pgtest"
)

// TestBackupRefusesTheFileOfANodeMovedToPostgres: a node moved to
// PostgreSQL keeps its provex.db for a while (docs/POSTGRES.md), and
// provex backup --data went on copying that stale file, exit 0, while the
// node wrote on in PostgreSQL (an outside review). The node now records in
// its data directory that it serves from PostgreSQL, and backup refuses
// the directory, naming the store without its password and pg_dump; moved
// back to SQLite and served there, the directory backs up again.
func TestBackupRefusesTheFileOfANodeMovedToPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	data := t.TempDir()
	startServe(t, bin, data).stop(t, syscall.SIGTERM)
	if out, stderr, code := runCLI(t, bin, "", "", "migrate-store", "--from", "sqlite:"+data, "--to", url); code != 0 {
		t.Fatalf("migrate-store: exit %d, %s%s", code, out, stderr)
	}
	serve := []string{"serve", "--member", "cao-bang", "--data", data, "--dev", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	startProcess(t, bin, append(serve, "--store", url)...).stop(t, syscall.SIGTERM)

	nightly := filepath.Join(t.TempDir(), "nightly.db")
	out, stderr, code := runCLI(t, bin, "", "", "backup", "--data", data, "--out", nightly)
	if code == 0 || !strings.Contains(stderr, "serves from PostgreSQL") || !strings.Contains(stderr, "pg_dump") ||
		!strings.Contains(stderr, strings.Replace(url, ":provex@", ":xxxxx@", 1)) {
		t.Fatalf("backup of a node moved to PostgreSQL: exit %d, %s%s", code, out, stderr)
	}
	if strings.Contains(out+stderr, ":provex@") {
		t.Fatalf("backup printed the database's password:\n%s%s", out, stderr)
	}
	if _, err := os.Stat(nightly); err == nil {
		t.Fatal("the refused backup wrote its file")
	}

	// Moved back: the node serves from the directory's file again.
	if err := os.Rename(filepath.Join(data, "provex.db"), filepath.Join(t.TempDir(), "old.db")); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := runCLI(t, bin, "", "", "migrate-store", "--from", url, "--to", "sqlite:"+data); code != 0 {
		t.Fatalf("migrate-store back: exit %d, %s%s", code, out, stderr)
	}
	startProcess(t, bin, serve...).stop(t, syscall.SIGTERM)
	if out, stderr, code := runCLI(t, bin, "", "", "backup", "--data", data, "--out", nightly); code != 0 {
		t.Fatalf("backup of the node moved back to SQLite: exit %d, %s%s", code, out, stderr)
	}
}
