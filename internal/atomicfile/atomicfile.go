// Package atomicfile writes files whole or not at all: the content goes to
// a temporary file in the target's directory, is synced, and only then
// takes the target's name, so a crash or a concurrent reader never sees a
// part of it. Key files, manifests and database backups are written this
// way. A temporary file left by a writer killed is removed by the next
// write of the same target.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/provex/provex/internal/filelock"
)

// Write writes data to path with mode. With replace, an existing file is
// replaced; without, an existing file makes it fail (the error wraps
// os.ErrExist) and stay untouched.
func Write(path string, data []byte, mode os.FileMode, replace bool) error {
	return Fill(path, mode, replace, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Fill is Write for content that something else produces: fill gets the
// empty temporary file, open, and writes it through f or by its name
// (f.Name(), as SQLite's VACUUM INTO does). Whatever fill wrote is synced
// before the file takes path's name; if fill fails, nothing is left behind.
func Fill(path string, mode os.FileMode, replace bool, fill func(f *os.File) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	removeStale(dir, base)
	tmp, lock, err := createTemp(dir, base)
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // after a rename there is nothing left to remove
		if lock != nil {
			lock.Close()
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return err
	}
	// Syncs what was written through any descriptor of the file.
	if err := tmp.Sync(); err != nil {
		return err
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmpName, path)
	} else {
		// A hard link fails if path exists, so no check-then-write race.
		err = os.Link(tmpName, path)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// Filesystems without hard links: check, then rename.
			if _, statErr := os.Lstat(path); statErr == nil {
				err = &os.PathError{Op: "write", Path: path, Err: os.ErrExist}
			} else if errors.Is(statErr, os.ErrNotExist) {
				err = os.Rename(tmpName, path)
			}
		}
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// tempPrefix begins the name of every temporary file of base; os.CreateTemp
// ends it with digits.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// createTemp makes the temporary file of base in dir and locks it
// (filelock) through a second descriptor, lock, which the caller closes
// once the file is gone or renamed: the lock tells a Fill of the same
// target (removeStale) that the file is in use. One that removeStale took
// away between its making and its lock is made again. Where files cannot
// be locked lock is nil.
func createTemp(dir, base string) (tmp, lock *os.File, err error) {
	for {
		if tmp, err = os.CreateTemp(dir, tempPrefix(base)+"*"); err != nil {
			return nil, nil, err
		}
		locked := false
		lock, err = os.Open(tmp.Name())
		if err == nil {
			locked, err = filelock.TryLock(lock)
			if err != nil || !locked {
				lock.Close()
				lock = nil
			}
		}
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			return tmp, nil, nil
		case locked && sameFile(tmp, tmp.Name()):
			return tmp, lock, nil
		case err != nil && !errors.Is(err, os.ErrNotExist):
			tmp.Close()
			os.Remove(tmp.Name())
			return nil, nil, err
		}
		// Taken away by a removeStale before the lock: another.
		if lock != nil {
			lock.Close()
		}
		tmp.Close()
	}
}

// removeStale removes the temporary files of base in dir that no Fill
// holds (a writer killed, its machine lost: a backup's is a whole copy of
// a database), with what SQLite made beside one (its -journal). It holds
// each one's lock while it removes it, so a Fill of the same target
// running meanwhile keeps its own. What cannot be read or removed stays,
// as it did.
func removeStale(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), tempPrefix(base))
		if !ok || !isDigits(digits) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		if locked, err := filelock.TryLock(f); err == nil && locked && sameFile(f, name) {
			for _, beside := range []string{"-journal", "-wal", "-shm"} {
				os.Remove(name + beside)
			}
			os.Remove(name)
		}
		f.Close()
	}
}

// sameFile says whether name is still the file f has open.
func sameFile(f *os.File, name string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(name)
	return err == nil && os.SameFile(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// syncDir makes a rename in dir durable, where the platform allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
