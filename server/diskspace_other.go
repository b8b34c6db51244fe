//go:build !unix

package server

import "errors"

func diskSpace(string) (free, size uint64, err error) {
	return 0, 0, errors.New("the disk's free space is not read on this system")
}
