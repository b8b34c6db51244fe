package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/provex/provex/storage/sqlstore"
)

// TestSQLiteWriterLock: on SQLite as on PostgreSQL, one process writes a
// store (TestNodeWaitsForAToolHoldingTheWritersLock and
// TestToolBesideTheNodeWritesNoEntry run on both). A second node on the
// file is refused at once, naming the process that holds it; a tool
// asking for the lock beside a serving node is refused (verify then opens
// beside it); the lock ends with the store's Close.
func TestSQLiteWriterLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	node, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := "process " + strconv.Itoa(os.Getpid())
	if _, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{}); !errors.Is(err, sqlstore.ErrNodeWriting) || errors.Is(err, sqlstore.ErrToolWriting) || !strings.Contains(err.Error(), pid) {
		t.Fatalf("a second node on the serving node's file: %v, want refused at once, naming %s", err, pid)
	}
	if _, err := sqlstore.Open(ctx, path, "", sqlstore.Options{Tool: "verify"}); !errors.Is(err, sqlstore.ErrNodeWriting) || errors.Is(err, sqlstore.ErrToolWriting) {
		t.Fatalf("a tool taking the lock beside the serving node: %v, want refused", err)
	}
	node.Close()
	again, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatalf("a node once the first closed: %v", err)
	}
	again.Close()
}
