package server_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// TestNodeFilesAreOwnerOnly: a node makes its data directory 0700 (even one
// that existed wider) and its key, database, WAL and shared-memory files
// 0600; it refuses a node key that group or others can read, saying what to
// run.
func TestNodeFilesAreOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	mustf(t, os.Mkdir(dir, 0o755), "mkdir")
	mustf(t, os.Chmod(dir, 0o755), "chmod")
	tn := startNodeAt(t, "cao-bang", dir)
	want := map[string]os.FileMode{
		".": 0o700, server.KeyFile: 0o600,
		server.DatabaseFile: 0o600, server.DatabaseFile + "-wal": 0o600, server.DatabaseFile + "-shm": 0o600,
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		mustf(t, err, "stat %s while the node runs", name)
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("%s: mode %04o, want %04o", name, got, mode)
		}
	}
	tn.Stop(t)

	key := filepath.Join(dir, server.KeyFile)
	mustf(t, os.Chmod(key, 0o644), "chmod")
	_, err := server.New(context.Background(), server.Config{
		Member: "cao-bang", DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), PlaintextAPI: true,
	})
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+key) {
		t.Errorf("node started with a key file others can read: %v; want a refusal saying chmod 600 %s", err, key)
	}
}

// TestDatabaseWithoutItsKeyIsRefused: a data directory that holds a
// database but no node.key (a backup restored without it) is refused with
// what to do, and no new key is made: a new key would not match the
// signatures of its log and trail, and the node stopped on a misleading
// "audit trail is not as this node signed it".
func TestDatabaseWithoutItsKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	tn := startNodeAt(t, "cao-bang", dir)
	if _, err := tn.Twinning.CreateAgreement(testCtx(t), &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "a", Agreement: newAgreement("signed")}); err != nil {
		t.Fatal(err)
	}
	tn.Stop(t)
	key := filepath.Join(dir, server.KeyFile)
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	_, err := server.New(context.Background(), server.Config{Member: "cao-bang", DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), PlaintextAPI: true})
	if err == nil || !strings.Contains(err.Error(), "no node.key") {
		t.Fatalf("a node on a database without its key: %v, want a refusal naming node.key", err)
	}
	if _, err := os.Stat(key); !os.IsNotExist(err) {
		t.Errorf("a new %s was made (%v)", key, err)
	}
}
