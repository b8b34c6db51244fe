package atomicfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/provex/provex/internal/atomicfile"
)

func TestWriteRefusesOrReplacesAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := atomicfile.Write(path, []byte("one"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(path, []byte("two"), 0o600, false); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second write without replace: %v, want an error wrapping os.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "one" {
		t.Fatalf("refused write changed the file to %q", got)
	}
	if err := atomicfile.Write(path, []byte("three"), 0o644, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "three" {
		t.Fatalf("replace wrote %q", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", fi.Mode().Perm())
	}
	onlyFiles(t, dir, "f")
}

func TestFillThatFailsLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	boom := errors.New("boom")
	err := atomicfile.Fill(path, 0o600, false, func(f *os.File) error {
		if err := os.WriteFile(f.Name(), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Fill: %v, want the fill's error", err)
	}
	onlyFiles(t, dir)
}

// TestTemporaryFileOfAWriterKilledIsRemoved: a writer killed leaves its
// temporary file (a backup's, a whole copy of a database, with SQLite's
// journal beside it: an outside review); the next write of the same target
// removes them, and nothing of another target or of another name.
func TestTemporaryFileOfAWriterKilledIsRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.db")
	left := []string{".b.db.tmp-12345", ".b.db.tmp-12345-journal", ".b.db.tmp-678"}
	kept := []string{".c.db.tmp-1", ".b.db.tmp-x1", "b.db.tmp-2"}
	for _, name := range append(append([]string(nil), left...), kept...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := atomicfile.Write(path, []byte("copy"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	onlyFiles(t, dir, append([]string{"b.db"}, kept...)...)
}

// TestTemporaryFileInUseIsKept: two writes of one target at once (two
// backups): the second removes no temporary file of the first, which
// completes.
func TestTemporaryFileInUseIsKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.db")
	err := atomicfile.Fill(path, 0o600, true, func(f *os.File) error {
		if _, err := f.WriteString("first"); err != nil {
			return err
		}
		if err := atomicfile.Write(path, []byte("second"), 0o600, true); err != nil {
			t.Fatalf("the second write: %v", err)
		}
		if _, err := os.Stat(f.Name()); err != nil {
			t.Fatalf("the second write removed the first's temporary file: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the first write: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Fatalf("the target holds %q, want the first write's, which ended last", got)
	}
	onlyFiles(t, dir, "b.db")
}

// onlyFiles fails unless dir holds exactly the files named, in any order
// (no temporary file left behind).
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	names = slices.Sorted(slices.Values(names))
	if !slices.Equal(got, names) {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
}
