//go:build !unix

package diskspace

import "errors"

func Of(string) (free, size uint64, err error) {
	return 0, 0, errors.New("the disk's free space is not read on this system")
}
