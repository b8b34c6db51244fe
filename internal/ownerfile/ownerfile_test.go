package ownerfile_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provex/provex/internal/ownerfile"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestReadPrivateRefusesWhatOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "my key")
	if err := os.WriteFile(path, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ownerfile.ReadPrivate(path, 100); err != nil || string(got) != "secret" {
		t.Fatalf("mode 0600: %q, %v", got, err)
	}
	for _, m := range []os.FileMode{0o640, 0o644, 0o604, 0o660} {
		if err := os.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
		_, err := ownerfile.ReadPrivate(path, 100)
		if !errors.Is(err, ownerfile.ErrTooOpen) || !strings.Contains(err.Error(), "chmod 600 '"+path+"'") {
			t.Errorf("mode %04o: %v; want a refusal with the chmod to run", m, err)
		}
	}
	if _, err := ownerfile.ReadPrivate(filepath.Join(dir, "missing"), 100); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ownerfile.ReadPrivate(dir, 100); err == nil {
		t.Error("a directory was read as a key")
	}
	os.Chmod(path, 0o600)
	if _, err := ownerfile.ReadPrivate(path, 3); err == nil {
		t.Error("a file over the limit was read")
	}
}

func TestDataFilesAreMadeOwnerOnly(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	root := t.TempDir()
	dir := filepath.Join(root, "data", "node")
	if err := ownerfile.MkdirPrivate(dir, log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("new directory: mode %04o, want 0700", m)
	}
	db := filepath.Join(dir, "provex.db")
	if err := ownerfile.CreatePrivate(db, log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, db); m != 0o600 {
		t.Errorf("new file: mode %04o, want 0600", m)
	}
	if logs.Len() != 0 {
		t.Errorf("logged on creating owner-only files:\n%s", logs.String())
	}
	// Wider ones found are tightened, with a warning naming them.
	os.Chmod(dir, 0o755)
	os.Chmod(db, 0o644)
	if err := ownerfile.MkdirPrivate(dir, log); err != nil {
		t.Fatal(err)
	}
	if err := ownerfile.CreatePrivate(db, log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("existing directory: mode %04o, want 0700", m)
	}
	if m := mode(t, db); m != 0o600 {
		t.Errorf("existing file: mode %04o, want 0600", m)
	}
	for _, want := range []string{dir, db, "was=0755", "was=0644"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	// Tighter ones are left as they are.
	os.Chmod(db, 0o400)
	if err := ownerfile.Tighten(db, ownerfile.FileMode, log); err != nil || mode(t, db) != 0o400 {
		t.Errorf("mode 0400: now %04o, %v", mode(t, db), err)
	}
	if err := ownerfile.Tighten(filepath.Join(dir, "none"), ownerfile.FileMode, log); err != nil {
		t.Errorf("missing file: %v", err)
	}
}
