package sqlstore

import (
	"context"
	"database/sql"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPostgresConnectionsProbeASilentServer: every connection a store on
// PostgreSQL opens (the writer's and each read pool's) is probed by TCP
// keepalives once idle, so that the kernel drops one to a server gone
// silent within deadServerAfter (Go's default gives up after 9 probes,
// 150 s). A proxy that keeps the connection open cannot show the
// kernel's part, so the sockets' options are read.
func TestPostgresConnectionsProbeASilentServer(t *testing.T) {
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
			var keepalive, idle, interval, count int
			var serr error
			if err := raw.Control(func(fd uintptr) {
				keepalive, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
				if serr == nil {
					idle, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
				}
				if serr == nil {
					interval, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
				}
				if serr == nil {
					count, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
				}
			}); err != nil {
				return err
			}
			if serr != nil {
				return serr
			}
			if gone := time.Duration(idle+interval*count) * time.Second; keepalive == 0 || gone > deadServerAfter {
				t.Errorf("%s's connection: keepalive %d, %d s idle then %d probes %d s apart (dropped after %v), want dropped within %v", name, keepalive, idle, count, interval, gone, deadServerAfter)
			}
			return nil
		})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
