//go:build unix

package sqlstore

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/provex/provex/internal/filelock"
)

// noFollow makes an open fail on a symbolic link.
const noFollow = syscall.O_NOFOLLOW

// tryLock takes an exclusive lock of f without waiting; false when another
// open file holds one.
func tryLock(f *os.File) (bool, error) { return filelock.TryLock(f) }

// giveToDatabaseOwner makes the lock file, made by root (an operator's
// verify), the database's owner's, as SQLite does with the -wal and -shm
// files it makes: else the node, run as its own user, could not open it.
func giveToDatabaseOwner(f *os.File, database string) {
	if os.Geteuid() != 0 {
		return
	}
	st, err := os.Stat(database)
	if err != nil {
		st, err = os.Stat(filepath.Dir(database))
	}
	if err != nil {
		return
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		_ = f.Chown(int(sys.Uid), int(sys.Gid))
	}
}
