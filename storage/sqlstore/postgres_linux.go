package sqlstore

import (
	"errors"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dropUnacknowledgedAfter makes the kernel drop a TCP connection whose
// sent data has gone unacknowledged for d (TCP_USER_TIMEOUT), not after its
// retransmissions' 15 minutes; it also bounds the keepalive probes of an
// idle one. A Unix socket needs nothing.
func dropUnacknowledgedAfter(network string, c syscall.RawConn, d time.Duration) error {
	if !strings.HasPrefix(network, "tcp") {
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
	})
	return errors.Join(err, serr)
}
