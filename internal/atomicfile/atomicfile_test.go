package atomicfile_test

import (
	"errors"
	"os"
	"path/filepath"
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
	onlyFile(t, dir, "f")
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
	onlyFile(t, dir)
}

// onlyFile fails unless dir holds exactly the files named (no temporary
// file left behind).
func onlyFile(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) || (len(names) == 1 && got[0] != names[0]) {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
}
