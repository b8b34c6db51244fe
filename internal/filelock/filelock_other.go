//go:build !unix

// Package filelock takes a process's exclusive lock of an open file
// (flock), which the system lets go when the process ends, however it
// ends: a file that a live process holds it on is in use.
package filelock

import (
	"errors"
	"os"
)

// TryLock: where flock is not, no lock is taken (the project's deployments
// are Linux).
func TryLock(*os.File) (bool, error) { return false, errors.ErrUnsupported }
