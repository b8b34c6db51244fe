//go:build unix

// Package diskspace reads how much room a file system has left: for a
// node's store, which must tell a disk with room from one whose writes
// fit only in space SQLite reuses, and for the room a node keeps for its
// own writes.
package diskspace

import "golang.org/x/sys/unix"

// Of is the room left to an unprivileged writer on the file system
// holding dir, and that file system's size, in bytes.
func Of(dir string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
