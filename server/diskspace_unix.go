//go:build unix

package server

import "golang.org/x/sys/unix"

// diskSpace is the room left to an unprivileged writer on the file system
// holding dir, and that file system's size, in bytes.
func diskSpace(dir string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
