package server

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/tap"

	"github.com/provex/provex/internal/apperr"
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
	limited.VouchedPerIdentity = n.cfg.Limits.VouchedConnectionsPerIdentity
	// The gRPC servers bound the answers their clients leave unread
	// (queueAnswer, countFrames), the streams they hold for them, and
	// those their clients reset (countFrames); the HTTP server writes an
	// answer within its call's place (capCalls) and its bytes under its
	// own bounds (boundUnsent), and net/http ends a stream with its
	// answer.
	lim := n.cfg.Limits
	if name == "peer" {
		// A Pull message carries up to peerMaxMessageBytes (one large
		// entry), and only members with the federation's certificates
		// get to call.
		lim.UnsentPerConnection = max(lim.UnsentPerConnection, 2*peerMaxMessageBytes)
		lim.UnsentPerAddress = max(lim.UnsentPerAddress, 4*peerMaxMessageBytes)
		lim.UnsentTotal = max(lim.UnsentTotal, 16*peerMaxMessageBytes)
	}
	if servesGRPC(name) {
		limited.Unsent = netlimit.NewUnsent(lim.UnsentPerConnection, lim.UnsentPerAddress, lim.UnsentTotal)
		limited.Streams = netlimit.NewCaps(name, "streams", lim.Streams, lim.StreamsPerAddress, n.log)
		limited.Resets = netlimit.NewResets(name, float64(lim.StreamResetsPerSecond), lim.StreamResetsBurst, n.log)
	}
	n.listeners[name] = limited
	return limited, nil
}

// servesGRPC says whether the listener called name is a gRPC server's.
func servesGRPC(name string) bool { return name == "gRPC" || name == "peer" }

// callCaps counts the calls a server has in flight, by client, from their
// headers on (Limits.Calls, CallsPerAddress). A gRPC server's calls are
// bounded in total by its listener's streams, when they are no more than
// Calls: each call holds a stream from its headers to its trailers. The
// streams make room for another network's call by resetting a
// connection of the network holding the most (netlimit); a total of calls
// besides would refuse that call, the places of the reset connection's
// calls not yet given back (grpc-go ends their contexts after).
func (n *Node) callCaps(name string) *netlimit.Caps {
	total := n.cfg.Limits.Calls
	if servesGRPC(name) && n.cfg.Limits.Streams <= total {
		total = 0
	}
	return netlimit.NewCaps(name, "calls", total, n.cfg.Limits.CallsPerAddress, n.log)
}

// unsentHTTP bounds the bytes of answers an HTTP server is writing to its
// clients as a gRPC server's listener bounds those it queued for them
// (Limits.UnsentPerAddress, UnsentTotal), counted by client: net/http's
// writes wait on the client, and end with its connection (boundUnsent).
func (n *Node) unsentHTTP() *netlimit.Unsent {
	return netlimit.NewUnsent(n.cfg.Limits.UnsentPerConnection, n.cfg.Limits.UnsentPerAddress, n.cfg.Limits.UnsentTotal)
}

// errTooManyCalls is the answer to an HTTP request over a cap.
func errTooManyCalls() error {
	return apperr.ResourceExhausted("too many calls in flight from this client or to this node; retry when some have ended").RetryAfter(time.Second)
}

// capCalls is a gRPC server's grpc.InTapHandle part that counts each call
// in caps until it ends. grpc-go calls it on a call's headers, before it
// reads the message or runs the interceptors. A call over a cap is not
// refused there: grpc-go never ends the context of a call its tap refuses,
// so each refusal would hold the call's timers and metadata (about 1 KB)
// for as long as the caller's grpc-timeout, and refused calls do not count
// against the streams of a connection (an outside review grew a node by
// 230 MB in a second that way). It resets the connection that carries it
// instead (netlimit.Drop), which ends every call on it; the caller sees
// UNAVAILABLE and must connect again, under the connection caps. (A
// server not on a netlimit listener, in tests, drops nothing.)
//
// A call's place is given back when its handler returns (the chain's
// first interceptor), before grpc-go writes its answer: given back only
// when grpc-go ends the call's context, after the answer is on its way, a
// client at its cap that starts a call as soon as one has its answer was
// found over the cap, and its connection reset. That lets no client pile
// up more: after the handler, grpc-go queues a unary answer whole without
// waiting for the client's flow control (a fresh stream's write quota),
// and a stream's messages were sent by its handler; an answer queued for a
// client that does not read was never counted by these caps (the context
// ends as the trailers are queued): Limits.UnsentPerConnection bounds it,
// and Limits.StreamsPerAddress the streams grpc-go holds until their
// trailers, queued behind the answer, are written.
// The context's end gives the place back too, for a call that never
// reaches its handler.
func capCalls(caps *netlimit.Caps) tap.ServerInHandle {
	return func(ctx context.Context, _ *tap.Info) (context.Context, error) {
		p, ok := peer.FromContext(ctx)
		if !ok || p.Addr == nil {
			return ctx, nil
		}
		client := netlimit.Client(p.Addr)
		if !caps.Acquire(client) {
			netlimit.Drop(p.Addr)
			// Its message may have come with its headers, and be read
			// before grpc-go sees the connection closed: the guard
			// refuses it, so it never runs.
			return context.WithValue(ctx, callPlaceKey{}, &callPlace{over: true}), nil
		}
		release := sync.OnceFunc(func() { caps.Release(client) })
		stop := context.AfterFunc(ctx, release)
		place := &callPlace{release: func() { stop(); release() }}
		return context.WithValue(ctx, callPlaceKey{}, place), nil
	}
}

// touchConnection is a gRPC server's grpc.InTapHandle part that marks the
// connection a call begins on as the last of its network to be closed to
// make room on a full listener, and as one that may be until the guard
// finds the call's credentials valid (netlimit.Touch): a call whose
// message never comes never reaches the guard.
func touchConnection(ctx context.Context, _ *tap.Info) (context.Context, error) {
	if p, ok := peer.FromContext(ctx); ok {
		netlimit.Touch(p.Addr)
	}
	return ctx, nil
}

// callPlace is a call's place under the calls-in-flight caps, from the tap
// to the chain.
type callPlace struct {
	over    bool   // over a cap: the guard refuses the call
	release func() // gives the place back; once, however often called
}

type callPlaceKey struct{}

// overCap reports whether capCalls found ctx's call over a cap.
func overCap(ctx context.Context) bool {
	p, _ := ctx.Value(callPlaceKey{}).(*callPlace)
	return p != nil && p.over
}

// releaseCallPlace gives back ctx's place under the calls caps, if it
// holds one (a gateway call holds the HTTP server's instead).
func releaseCallPlace(ctx context.Context) {
	if p, _ := ctx.Value(callPlaceKey{}).(*callPlace); p != nil && p.release != nil {
		p.release()
	}
}

// tapChain runs a gRPC server's tap handles in order; the first that
// refuses a call refuses it.
func tapChain(handles ...tap.ServerInHandle) tap.ServerInHandle {
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		for _, h := range handles {
			var err error
			if ctx, err = h(ctx, info); err != nil {
				return ctx, err
			}
		}
		return ctx, nil
	}
}

// checkFileLimit warns when the listeners' connection caps together, with
// the descriptors the node holds itself, do not fit under the process's
// open-file limit: then a flood from many clients can still exhaust the
// descriptors before any cap refuses a connection, and the store cannot
// open its read connections (with 3 × 16 under a limit of 64, a flood
// within the caps left token holders' calls failing: an outside review).
// Set aside are the store's connections at their most, one dial to each
// peer, and fileLimitMargin.
func (n *Node) checkFileLimit(listeners int) {
	limit := openFileLimit()
	caps := uint64(listeners) * uint64(n.cfg.Limits.Connections)
	own := uint64(n.store.Descriptors() + len(n.cfg.Peers) + fileLimitMargin)
	if limit != 0 && caps+own > limit {
		n.log.Warn("the connection caps and the node's own files exceed the open-file limit; raise the limit (ulimit -n, systemd LimitNOFILE) or lower --max-connections (max_connections in the config file)",
			"open_file_limit", limit, "listeners", listeners, "connections_per_listener", n.cfg.Limits.Connections, "connections_in_total", caps, "set_aside", own)
	}
}

// fileLimitMargin is what checkFileLimit sets aside for the node's other
// descriptors: standard streams, the runtime's poller, the listeners and
// the files it reads (manifest, keys, certificates); a node at rest held
// 24 in all, its store's among them (an outside review).
const fileLimitMargin = 64

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

// peerMaxMessageBytes bounds a message of the peer endpoint: a single
// record can be as large as the API accepts, and its entry a little larger.
const peerMaxMessageBytes = 64 << 20

// errAnswersUnread is the error of a call whose answer would pass the
// bounds of what its client has left unread (Limits.UnsentPerConnection),
// whose connection queueAnswer resets.
func errAnswersUnread() error {
	return apperr.ResourceExhausted("the answers of earlier calls wait unread on this connection (is the client's HTTP/2 flow-control window shut?); read them before asking for more")
}

// queueAnswer reports whether an answer of n bytes may be queued for ctx's
// connection (netlimit.Queue); one that may not resets the connection,
// which gives back all its client left unread there.
func queueAnswer(ctx context.Context, n int) bool {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil || netlimit.Queue(p.Addr, n) {
		return true
	}
	netlimit.Drop(p.Addr)
	return false
}

// countFrames are a gRPC server's transport credentials (insecure ones
// for plaintext) with each connection's frames counted, above TLS
// (netlimit.CountFrames): its DATA written, its streams opened and ended.
type countFrames struct {
	credentials.TransportCredentials
}

func (c countFrames) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return conn, info, err
	}
	return netlimit.CountFrames(conn), info, nil
}

func (c countFrames) Clone() credentials.TransportCredentials {
	return countFrames{c.TransportCredentials.Clone()}
}
