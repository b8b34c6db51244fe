// Package atomicfile writes files whole or not at all: the content goes to
// a temporary file in the target's directory, is synced, and only then
// takes the target's name, so a crash or a concurrent reader never sees a
// part of it. Key files, manifests and database backups are written this
// way.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
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
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // after a rename there is nothing left to remove
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

// syncDir makes a rename in dir durable, where the platform allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
