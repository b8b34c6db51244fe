// Package ownerfile keeps a node's secrets and data to the user it runs as.
// Private keys (node.key, tls.key, ca.key) are read only from files that
// group and others cannot read, and refused otherwise with the chmod that
// fixes them: a key others could read may already be theirs, so the node
// does not quietly go on with it. A node's data (its directory, provex.db
// and its -wal and -shm files) is created owner-only, and tightened with a
// log line when found wider: that is a copy of every record a local user
// could read, and nothing is lost by closing it.
//
// Unix permissions only; Windows is not a target.
package ownerfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// Open modes: owner-only files and directories.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// ErrTooOpen is what ReadPrivate's refusal of a readable key wraps.
var ErrTooOpen = errors.New("readable by group or others")

// ReadPrivate reads the private key file at path, at most limit bytes. It
// refuses anything but a regular file that only its owner may read. Errors
// of the file system wrap the os errors (os.ErrNotExist).
func ReadPrivate(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The mode of the open file, not of the path: no window between check
	// and read.
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is %w (mode %04o), and it holds a private key; make it the owner's alone with: chmod 600 %s (and replace the key if someone else may have read it)",
			path, ErrTooOpen, perm, shellQuote(path))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// MkdirPrivate creates the directory dir (and its parents) owner-only, and
// makes an existing dir owner-only, logging that it did.
func MkdirPrivate(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	return Tighten(dir, DirMode, log)
}

// CreatePrivate creates the file at path owner-only if it does not exist,
// and makes an existing one owner-only, logging that it did. SQLite gives
// the -wal and -shm files it creates the mode of the database file, so
// creating that one first is what keeps them owner-only.
func CreatePrivate(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	return Tighten(path, FileMode, log)
}

// Tighten takes from the file or directory at path any permission that
// perm does not give, logging that it did; a missing path is left alone.
func Tighten(path string, perm fs.FileMode, log *slog.Logger) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	old := fi.Mode().Perm()
	if old&^perm == 0 {
		return nil
	}
	if err := os.Chmod(path, old&perm); err != nil {
		return fmt.Errorf("%s is readable by group or others (mode %04o), and making it owner-only failed: %w", path, old, err)
	}
	if log != nil {
		log.Warn("made a node file owner-only: group or others could read it", "path", path, "was", fmt.Sprintf("%04o", old), "now", fmt.Sprintf("%04o", old&perm))
	}
	return nil
}

// shellQuote quotes path for a shell if it needs it.
func shellQuote(path string) string {
	if path != "" && strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@%") == "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
