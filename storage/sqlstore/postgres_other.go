//go:build !linux

package sqlstore

import (
	"syscall"
	"time"
)

// dropUnacknowledgedAfter does nothing where TCP_USER_TIMEOUT is not
// Linux's: the keepalive probes alone notice a dead idle connection, and
// the writer's deadline (DB.beginWrite) a silent one.
func dropUnacknowledgedAfter(string, syscall.RawConn, time.Duration) error { return nil }
