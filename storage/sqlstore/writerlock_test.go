package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
	// The same file by a link to it or to its directory (an outside
	// review: a link to provex.db served beside the node).
	linkDir := filepath.Join(t.TempDir(), "linked")
	if err := os.Symlink(filepath.Dir(path), linkDir); err != nil {
		t.Fatal(err)
	}
	linkFile := filepath.Join(t.TempDir(), "provex.db")
	if err := os.Symlink(path, linkFile); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{filepath.Join(linkDir, "provex.db"), linkFile} {
		if _, err := sqlstore.Open(ctx, other, "cao-bang", sqlstore.Options{}); !errors.Is(err, sqlstore.ErrNodeWriting) {
			t.Errorf("a second node on the serving node's file by %s: %v, want refused", other, err)
		}
	}
	node.Close()
	again, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatalf("a node once the first closed: %v", err)
	}
	again.Close()
}

// TestLockFileMadeByRootIsTheDatabaseOwners: verify run as root on the
// data directory of a node run as its own user made the lock file root's,
// and the node could not start again (an outside review). Made by root,
// it is the database's owner's, as SQLite makes the -wal and -shm files.
func TestLockFileMadeByRootIsTheDatabaseOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.Remove(path + "-lock")
	const nobody = 65534
	for _, f := range []string{dir, path} {
		if err := os.Chown(f, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	tool, err := sqlstore.Open(ctx, path, "", sqlstore.Options{Tool: "verify"})
	if err != nil {
		t.Fatal(err)
	}
	tool.Close()
	st, err := os.Stat(path + "-lock")
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != nobody || sys.Gid != nobody {
		t.Errorf("the lock file root made belongs to %d:%d, want the database's owner %d", sys.Uid, sys.Gid, nobody)
	}
}

// TestLockFileThatIsALinkIsNotFollowed: the data directory is the node's
// user's; a link planted as its lock file would have a tool run by root
// truncate, write and give away the file it names. The store refuses to
// open, and that file is untouched.
func TestLockFileThatIsALinkIsNotFollowed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "provex.db")
	victim := filepath.Join(t.TempDir(), "victim")
	const content = "not the lock's to write\n"
	if err := os.WriteFile(victim, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path+"-lock"); err != nil {
		t.Fatal(err)
	}
	if db, err := sqlstore.Open(ctx, path, "", sqlstore.Options{Tool: "verify"}); err == nil {
		db.Close()
		t.Fatal("a store opened through a lock file that is a link")
	} else if !strings.Contains(err.Error(), "is a symbolic link, which the node does not follow: remove it") {
		t.Errorf("refused as %q, want it to say the lock file is a link to remove", err)
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != content {
		t.Errorf("the file the link names: %q, %v", got, err)
	}
	if st, err := os.Stat(victim); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("the file the link names changed mode: %v, %v", st.Mode(), err)
	}
}

// TestToolHoldsItsLockAcrossItsStores: migrate-store holds its files'
// lock for the whole copy and opens them as stores meanwhile; they share
// it, and a node started then waits for the tool, whose lock goes only
// with its last share (before, the copy ran between the stores' opens
// with no lock held, and a node started then wrote to the source: an
// outside review).
func TestToolHoldsItsLockAcrossItsStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	lock, err := sqlstore.LockWriter(path, "migrate-store")
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Tool: "migrate-store"})
	if err != nil {
		t.Fatalf("the tool's store under its own lock: %v", err)
	}
	store.Close()
	if _, err := sqlstore.Open(ctx, path, "", sqlstore.Options{Tool: "verify"}); !errors.Is(err, sqlstore.ErrToolWriting) {
		t.Errorf("another tool while migrate-store holds the lock: %v, want refused", err)
	}
	waiting, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if _, err := sqlstore.Open(waiting, path, "cao-bang", sqlstore.Options{}); !errors.Is(err, sqlstore.ErrToolWriting) || !strings.Contains(err.Error(), "provex migrate-store") {
		t.Errorf("a node while migrate-store holds the lock, its store closed: %v, want it waiting for the tool", err)
	}
	lock.Close()
	node, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatalf("a node once the tool let go: %v", err)
	}
	node.Close()
}
