package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provex/provex/pki"
	"github.com/provex/provex/server"
)

// runBounded runs the binary with args and returns its stderr and exit
// code; a command still running after 30 s is killed (exit -1).
func runBounded(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return errOut.String(), 0
}

// TestKeyFilesOthersCanReadAreRefused: the CA key, a node's TLS key and its
// node key are refused by the commands that read them when group or others
// can read them, with the chmod to run.
func TestKeyFilesOthersCanReadAreRefused(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	refused := func(what, key string, args ...string) {
		t.Helper()
		mustChmod(t, key, 0o644)
		stderr, code := runBounded(t, bin, args...)
		if code == 0 || code == -1 || !strings.Contains(stderr, "chmod 600 "+key) {
			t.Errorf("%s with %s readable by others: exit %d, stderr %q; want a refusal saying chmod 600 %s", what, filepath.Base(key), code, stderr, key)
		}
		mustChmod(t, key, 0o600)
	}
	caDir, nodeDir := filepath.Join(dir, "ca"), filepath.Join(dir, "node")
	if stderr, code := runBounded(t, bin, "ca", "init", "--dir", caDir); code != 0 {
		t.Fatalf("ca init: exit %d, %s", code, stderr)
	}
	issue := []string{"ca", "issue", "--member", "cao-bang", "--ca-dir", caDir, "--out", nodeDir}
	refused("ca issue", filepath.Join(caDir, pki.CAKeyFile), issue...)
	if stderr, code := runBounded(t, bin, issue...); code != 0 {
		t.Fatalf("ca issue with ca.key 0600: exit %d, %s", code, stderr)
	}
	data := filepath.Join(dir, "data")
	serve := []string{"serve", "--member", "cao-bang", "--data", data, "--tls-dir", nodeDir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	refused("serve", filepath.Join(nodeDir, pki.NodeKeyFile), serve...)

	key := filepath.Join(dir, "other.key")
	if stderr, code := runBounded(t, bin, "keygen", "--out", key); code != 0 {
		t.Fatalf("keygen: exit %d, %s", code, stderr)
	}
	refused("keygen --rotate-encryption", key, "keygen", "--rotate-encryption", key)
	refused("serve --key", key, append(serve, "--dev", "--key", key)...)

	// The node key a node made for itself in its data directory.
	startServe(t, bin, data).stop(t, syscall.SIGTERM)
	refused("serve", filepath.Join(data, server.KeyFile), append(serve, "--dev")...)
}

// TestServeMakesDataOwnerOnly: provex serve makes its data directory 0700
// and its key, database, WAL and shared-memory files 0600.
func TestServeMakesDataOwnerOnly(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	startServe(t, bin, data)
	for name, want := range map[string]os.FileMode{
		".": 0o700, server.KeyFile: 0o600,
		server.DatabaseFile: 0o600, server.DatabaseFile + "-wal": 0o600, server.DatabaseFile + "-shm": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", name, got, want)
		}
	}
}

func mustChmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
