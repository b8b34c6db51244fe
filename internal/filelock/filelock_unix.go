//go:build unix

// Package filelock takes a process's exclusive lock of an open file
// (flock), which the system lets go when the process ends, however it
// ends: a file that a live process holds it on is in use.
package filelock

import (
	"errors"
	"os"
	"syscall"
)

// TryLock takes an exclusive lock of f without waiting; false when another
// open file holds one.
func TryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return false, err
	}
}
