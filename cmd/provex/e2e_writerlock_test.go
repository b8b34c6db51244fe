package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/provex/provex/storage/sqlstore"
)

// TestSecondServeOnADataDirectoryIsRefused: a second serve started on the
// data directory a node serves from (the service started twice, a script
// run again) exits at once saying another node writes there, without
// opening the file: before the writer's lock on SQLite it checked the
// serving node's log and audit trail mid-write, called them tampered
// with or damaged, and recorded damage in the serving node's file (an
// outside review). verify beside the node still runs, recording nothing.
func TestSecondServeOnADataDirectoryIsRefused(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	p := startServe(t, bin, data)
	yaml := "display_name: Before the second serve\nkind: KIND_MOU\n"
	if out, stderr, code := runCLI(t, bin, p.token, yaml, "create", "provinces/cao-bang/agreements", "-f", "-", "--id", "first", "--addr", p.grpcAddr); code != 0 {
		t.Fatalf("create: exit %d, %s%s", code, out, stderr)
	}
	_, stderr, code := runCLI(t, bin, "", "", "serve", "--member", "cao-bang", "--data", data, "--dev",
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "another provex node is writing to "+filepath.Join(data, "provex.db")) || !strings.Contains(stderr, "one data directory, one node") {
		t.Fatalf("a second serve on the node's data directory: exit %d, %s", code, stderr)
	}
	out, stderr, code := runCLI(t, bin, "", "", "verify", "--data", data)
	if code != 0 || !strings.Contains(out, "a node is serving on this store") {
		t.Errorf("verify beside the node: exit %d, %s%s", code, out, stderr)
	}
	// The node's database moved away, the node not stopped: it writes
	// on to the moved file, so a backup restored in its place would lose
	// what it writes. Its lock file is still held.
	moved := t.TempDir()
	files := []string{"provex.db", "provex.db-wal", "provex.db-shm"}
	for _, f := range files {
		if err := os.Rename(filepath.Join(data, f), filepath.Join(moved, f)); err != nil {
			t.Fatal(err)
		}
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, stderr, code := runCLI(t, bin, "", "", "backup", "--data", moved, "--out", backup); code != 0 {
		t.Fatalf("backup: exit %d, %s", code, stderr)
	}
	_, stderr, code = runCLI(t, bin, "", "", "restore-backup", "--from", backup, "--data", data)
	if code != 1 || !strings.Contains(stderr, "another provex node is writing") || !strings.Contains(stderr, "stop the node first") {
		t.Errorf("restore-backup into the directory of a node still serving: exit %d, %s", code, stderr)
	}
	for _, f := range files {
		if err := os.Rename(filepath.Join(moved, f), filepath.Join(data, f)); err != nil {
			t.Fatal(err)
		}
	}
	if out, stderr, code := runCLI(t, bin, p.token, yaml, "create", "provinces/cao-bang/agreements", "-f", "-", "--id", "second", "--addr", p.grpcAddr); code != 0 {
		t.Errorf("the node's create after the refused serve: exit %d, %s%s", code, out, stderr)
	}
	if out, stderr, code := runCLI(t, bin, p.token, "", "sync", "status", "--addr", p.grpcAddr); code != 0 || strings.Contains(out, "PROBLEM") || strings.Contains(out, "damaged") {
		t.Errorf("the node's status after the refused serve: exit %d, %s%s", code, out, stderr)
	}
}

// TestSecondVerifyIsRefusedNotBeside: a verify run while another holds
// the writer's lock of a stopped node's file is refused, naming it: it
// took the other for a serving node, ran beside it and recorded nothing,
// saying a node served (an outside review).
func TestSecondVerifyIsRefusedNotBeside(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	adminToken(t, bin, data, "cao-bang") // makes the node's database
	lock, err := sqlstore.LockWriter(filepath.Join(data, "provex.db"), "verify")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	out, stderr, code := runCLI(t, bin, "", "", "verify", "--data", data)
	if code != 1 || strings.Contains(out, "a node is serving") || !strings.Contains(stderr, "provex verify, process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("verify while another verify holds the lock: exit %d, %s%s", code, out, stderr)
	}
}
