package server

import (
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/provex/provex/internal/netlimit"
	"github.com/provex/provex/replication"
)

// listen binds addr for the listener called name, capped at the node's
// connection limits.
func (n *Node) listen(name, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	limited := netlimit.Limit(l, name, n.cfg.Limits.Connections, n.cfg.Limits.ConnectionsPerAddress, n.log)
	n.listeners[name] = limited
	return limited, nil
}

// checkFileLimit warns when the listeners' connection caps together do not
// fit under the process's open-file limit: then a flood from many clients
// can still exhaust the descriptors (the database, sync and outgoing calls
// need some too) before any cap refuses a connection.
func (n *Node) checkFileLimit(listeners int) {
	limit := openFileLimit()
	caps := uint64(listeners) * uint64(n.cfg.Limits.Connections)
	if limit != 0 && caps >= limit {
		n.log.Warn("the connection caps exceed the open-file limit; raise the limit (ulimit -n, systemd LimitNOFILE) or lower Limits.Connections",
			"open_file_limit", limit, "listeners", listeners, "connections_per_listener", n.cfg.Limits.Connections, "connections_in_total", caps)
	}
}

// connectionOptions bound a gRPC server's connections in time: the
// handshake (TLS, and the HTTP/2 preface that grpc-go reads under the same
// deadline, TLS or not), idleness, and pings.
func connectionOptions(l Limits) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ConnectionTimeout(l.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: l.IdleTimeout,
			// A client gone without closing (a peer's machine switched off
			// mid-Pull) is noticed within Time+Timeout.
			Time:    2 * time.Minute,
			Timeout: 20 * time.Second,
		}),
		// Peers ping every replication.KeepaliveTime; allowing twice as often
		// leaves room for timer jitter, so they are never sent GOAWAY
		// too_many_pings. Pings without a call in flight are allowed (they
		// do not keep an idle connection from being closed).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             replication.KeepaliveTime / 2,
			PermitWithoutStream: true,
		}),
	}
}
