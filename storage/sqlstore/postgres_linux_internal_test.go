package sqlstore

import (
	"context"
	"database/sql"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPostgresConnectionsDropASilentServer: every connection a store on
// PostgreSQL opens (the writer's and each read pool's) is probed by TCP
// keepalives and dropped by the kernel once what it sent has gone
// unacknowledged for deadServerAfter (TCP_USER_TIMEOUT): they had
// neither, and a network cut held a call on one for 15 minutes, the
// kernel's retransmissions (an outside review). A proxy that keeps the
// connection open cannot show the kernel's part, so the sockets' options
// are read.
func TestPostgresConnectionsDropASilentServer(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, NewLocation(t, "postgres"), "cao-bang", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, pool := range map[string]*sql.DB{"writer": db.writer, "lookups": db.reader, "queries": db.queries, "tokens": db.tokens} {
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Raw(func(dc any) error {
			nc := dc.(rebindConn).Conn.Conn().PgConn().Conn()
			if nc.RemoteAddr().Network() != "tcp" {
				t.Skipf("the test's server is reached over %s", nc.RemoteAddr().Network())
			}
			raw, err := nc.(syscall.Conn).SyscallConn()
			if err != nil {
				return err
			}
			var keepalive, userTimeout, idle int
			var serr error
			if err := raw.Control(func(fd uintptr) {
				keepalive, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
				if serr == nil {
					userTimeout, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
				}
				if serr == nil {
					idle, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
				}
			}); err != nil {
				return err
			}
			if serr != nil {
				return serr
			}
			if keepalive == 0 || time.Duration(idle)*time.Second > deadServerAfter {
				t.Errorf("%s's connection: keepalive %d, probing after %d s idle, want probes within %v", name, keepalive, idle, deadServerAfter)
			}
			if time.Duration(userTimeout)*time.Millisecond != deadServerAfter {
				t.Errorf("%s's connection drops unacknowledged data after %d ms, want %v", name, userTimeout, deadServerAfter)
			}
			return nil
		})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
