package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// TestOutOfFileDescriptorsIsUnavailable: with every file descriptor the
// process may open in use (a connection flood within the caps did that to
// a node), a read whose pool must open a connection fails with
// go-sqlite3's own error, which Failure makes UNAVAILABLE with a retry
// hint, not INTERNAL (an outside review); once descriptors are given back
// the read is served. It runs in a child process of the test binary, whose
// descriptors it may use up without harming the tests around it.
func TestOutOfFileDescriptorsIsUnavailable(t *testing.T) {
	if os.Getenv("PROVEX_TEST_FEW_FILES") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOutOfFileDescriptorsIsUnavailable$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "PROVEX_TEST_FEW_FILES=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in a process with its descriptors used up: %v\n%s", err, out)
		}
		return
	}
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		t.Fatal(err)
	}
	limit.Cur = min(limit.Cur, 256)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "cao-bang", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := "provinces/cao-bang/agreements/a1"
	writeRecord(t, db, &twinningv1.Agreement{Name: name, DisplayName: "MoU on border trade"})
	// The pools open their connections when a read needs one: with none
	// kept idle, the next read opens one, as a pool that has not yet been
	// busy does.
	db.reader.SetMaxIdleConns(0)
	db.queries.SetMaxIdleConns(0)

	var held []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	_, getErr := db.Get(ctx, resource.Agreements, name)
	_, listErr := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: "cao-bang"})
	_, tokenErr := db.lookupToken(ctx, "0123456789abcdef")
	for _, f := range held {
		f.Close()
	}
	for what, err := range map[string]error{"get": getErr, "list": listErr, "token lookup": tokenErr} {
		if err == nil {
			t.Fatalf("%s with no descriptor left: no error (did it open no connection?)", what)
		}
		failure := db.Failure(ctx, err)
		st := status.Convert(failure)
		if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "no file descriptor left") {
			t.Errorf("%s with no descriptor left: %v (from %v), want UNAVAILABLE saying so", what, failure, err)
		}
		if d := apperr.RetryDelay(st); d != 5*time.Second {
			t.Errorf("%s with no descriptor left: retry after %v, want 5s", what, d)
		}
		if plain := db.Plainly(err); !strings.Contains(plain, "no file descriptor left") {
			t.Errorf("%s with no descriptor left, for the health: %q", what, plain)
		}
	}
	if _, err := db.Get(ctx, resource.Agreements, name); err != nil {
		t.Errorf("get once descriptors are given back: %v", err)
	}
}

// TestDescriptorsBoundTheStoresFiles: a SQLite store with every connection
// of its read pools open and in use holds no more file descriptors than
// Descriptors says, which the node sets aside under its open-file limit,
// nor fewer than it holds without a backup running.
func TestDescriptorsBoundTheStoresFiles(t *testing.T) {
	open := func() int {
		t.Helper()
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip(err)
		}
		return len(fds)
	}
	ctx := context.Background()
	before := open()
	const readers = 3
	db, err := Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "cao-bang", Options{Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for pool, size := range map[*sql.DB]int{db.reader: readers, db.queries: readers, db.tokens: tokenReaders} {
		for range size {
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var n int
			if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
	}
	held := open() - before
	// A backup's connection and copy are not open: at most those 4 fewer.
	if held > db.Descriptors() || held < db.Descriptors()-4 {
		t.Errorf("the store holds %d descriptors with its pools full; Descriptors says %d", held, db.Descriptors())
	}
}
