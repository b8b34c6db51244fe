package server

import (
	"context"
	"crypto/x509"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/netlimit"
	"github.com/provex/provex/pki"
)

// maxHeaderListBytes bounds the decoded header fields of a gRPC call (the
// HTTP gateway's are bounded by its MaxHeaderBytes): a token, a request
// id and a trace context need well under 1 KiB.
const maxHeaderListBytes = 16 << 10

// Limits bound what one caller can take from a node. The zero value of a
// field means its default.
type Limits struct {
	// MaxMessageBytes bounds every request and response message, gRPC and
	// HTTP bodies alike (default 4 MiB).
	MaxMessageBytes int
	// CallTimeout bounds a unary call, whatever deadline the caller set
	// (default 30s), StreamTimeout a streaming one such as a sync Pull
	// (default 10m); both from the call's headers on, so reading a request
	// message that comes slowly or never is bounded too.
	CallTimeout   time.Duration
	StreamTimeout time.Duration
	// RatePerSecond and Burst are the calls each identity (token, peer, or
	// the anonymous callers of one client address) may make: a token bucket refilled at
	// RatePerSecond holding at most Burst calls (defaults 5000/s and 10000: above what one honest program needs, below what starves the others).
	// Calls beyond it get RESOURCE_EXHAUSTED.
	RatePerSecond float64
	Burst         int
	// PullsPerPeer bounds the Pull streams one peer may hold open at once
	// (default 4), and apart from them its health watches; more get
	// RESOURCE_EXHAUSTED.
	PullsPerPeer int
	// QueriesPerIdentity bounds the queries (reads other than a Get: List,
	// Search, Summarize, the national and workflow views) one identity
	// runs at once (default GOMAXPROCS, at least 2: half the query
	// connections of a SQLite node); its others wait their turn within
	// their deadline. The rate limit counts calls, not what they cost: a
	// few queries of seconds each held every read connection of a node,
	// before queries had a pool of their own (sqlstore's readPools).
	QueriesPerIdentity int
	// StreamsPerConnection bounds concurrent calls on one HTTP/2
	// connection (default 256).
	StreamsPerConnection uint32

	// Connections bounds the connections each listener (API gRPC, HTTP
	// gateway, peer endpoint) holds open at once (default 4096), and
	// ConnectionsPerAddress those from one client (default 256: many
	// people behind one office's NAT, a few connections each): one IPv4
	// address, or one IPv6 /64, since an IPv6 host usually holds a whole
	// /64 and could pick a fresh address per connection. A
	// connection over either is closed as soon as it is accepted, so one
	// address holding thousands cannot take the file descriptors that other
	// callers and peers need.
	Connections           int
	ConnectionsPerAddress int
	// VouchedConnectionsPerIdentity bounds, per listener, the connections
	// that one identity's credentials (a token, a member's certificate)
	// keep from being closed to make room on a full listener (default 64:
	// a peer uses one or two, an API client a few); its others are closed
	// as those without credentials are. Without it one member's
	// certificate, or one token, from enough addresses held every place
	// of a listener, and the other members' new connections were closed.
	VouchedConnectionsPerIdentity int
	// Calls bounds the calls each server (API gRPC, HTTP gateway, peer
	// endpoint) has in flight at once (default 16384), and CallsPerAddress
	// those from one client, counted as connections are (default 1024). A
	// call costs a goroutine and its buffers from its headers on, before
	// its message says who calls: without them one client with no token
	// could hold 256 calls on each of its connections that never send a
	// message. A gRPC call over either closes the connection that carries
	// it (capCalls says why); an HTTP request over either gets 429.
	Calls           int
	CallsPerAddress int
	// UnsentPerConnection bounds the bytes of answers queued for one
	// connection and not yet written to it (default 4 messages of
	// MaxMessageBytes), UnsentPerAddress those of one client's connections
	// (16 messages), UnsentTotal those of a listener's (256 messages).
	// grpc-go queues an answer whole once its call has ended, whatever the
	// client's flow-control window: a client that never opens it would
	// keep every answer it asks for in memory, uncounted by the calls caps.
	// A call whose answer would pass a bound resets its connection, which
	// frees what grpc-go holds for it. UnsentPerAddress and UnsentTotal
	// also bound the bytes of answers an HTTP server is writing to one
	// client and to all of its listener's, which wait on clients that do
	// not read (boundUnsent).
	UnsentPerConnection, UnsentPerAddress, UnsentTotal int64
	// Streams bounds the HTTP/2 streams each gRPC server (API, peer
	// endpoint) holds open for its clients, from a call's headers until
	// its trailers are written, the client resets it, or its connection
	// closes (default Calls), and StreamsPerAddress those of one client
	// (default CallsPerAddress). grpc-go writes a call's trailers behind
	// its answer, which waits for the client's flow-control window, and
	// holds the stream (about 3.5 KB) until then: a client that never
	// opens its window kept every call it made in memory, uncounted by
	// the calls caps (given back when a handler returns) and by Unsent
	// (a health check's answer is 7 bytes). A stream over either resets
	// its connection, which frees what grpc-go holds for it.
	Streams, StreamsPerAddress int
	// StreamResetsPerSecond bounds the calls still open that a client
	// cancels (resets) on one gRPC connection, a second (default 100),
	// StreamResetsBurst at once (default, and at least, twice
	// StreamsPerConnection: a client cancels every call it holds there
	// when their shared context ends, and an outside review found one of
	// 250 calls cut off by a burst of 200); honest clients rarely cancel
	// more. A call opened and reset at once costs the node its headers'
	// decoding and a goroutine, yet sends no message for the rate limit to
	// count: one connection with no token opened and reset 289,606 calls
	// in 10 s, about 6 s of a core. A reset past the budget resets its
	// connection.
	StreamResetsPerSecond, StreamResetsBurst int
	// HandshakeTimeout bounds the time from accepting a connection to a
	// finished TLS handshake and HTTP/2 preface (gRPC) or a first request's
	// headers (HTTP) (default 10s): a bare TCP connection that says nothing
	// is closed after it.
	HandshakeTimeout time.Duration
	// ReadTimeout bounds reading an HTTP request with its body (default 1m:
	// a 4 MiB body at 70 KB/s), WriteTimeout writing its response (default
	// 2m, beyond CallTimeout; a sync Pull over HTTP is cut there, peers pull
	// over gRPC).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// IdleTimeout closes a connection without a call in flight for this
	// long: an HTTP keep-alive connection, or a gRPC one (with a GOAWAY;
	// clients reconnect when they next call) (default 5m).
	IdleTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = MaxMessageBytes
	}
	if l.CallTimeout <= 0 {
		l.CallTimeout = 30 * time.Second
	}
	if l.StreamTimeout <= 0 {
		l.StreamTimeout = 10 * time.Minute
	}
	if l.RatePerSecond <= 0 {
		l.RatePerSecond = 5000
	}
	if l.Burst <= 0 {
		l.Burst = 10000
	}
	if l.PullsPerPeer <= 0 {
		l.PullsPerPeer = 4
	}
	if l.QueriesPerIdentity <= 0 {
		l.QueriesPerIdentity = max(2, runtime.GOMAXPROCS(0))
	}
	if l.StreamsPerConnection == 0 {
		l.StreamsPerConnection = 256
	}
	if l.Connections <= 0 {
		l.Connections = 4096
	}
	if l.ConnectionsPerAddress <= 0 {
		l.ConnectionsPerAddress = 256
	}
	if l.VouchedConnectionsPerIdentity <= 0 {
		l.VouchedConnectionsPerIdentity = 64
	}
	if l.Calls <= 0 {
		l.Calls = 16384
	}
	if l.CallsPerAddress <= 0 {
		l.CallsPerAddress = 1024
	}
	if l.Streams <= 0 {
		l.Streams = l.Calls
	}
	if l.StreamsPerAddress <= 0 {
		l.StreamsPerAddress = l.CallsPerAddress
	}
	if l.StreamResetsPerSecond <= 0 {
		l.StreamResetsPerSecond = 100
	}
	l.StreamResetsBurst = max(l.StreamResetsBurst, 2*int(l.StreamsPerConnection))
	if l.UnsentPerConnection <= 0 {
		l.UnsentPerConnection = 4 * int64(l.MaxMessageBytes)
	}
	if l.UnsentPerAddress <= 0 {
		l.UnsentPerAddress = 16 * int64(l.MaxMessageBytes)
	}
	if l.UnsentTotal <= 0 {
		l.UnsentTotal = 256 * int64(l.MaxMessageBytes)
	}
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = 10 * time.Second
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = time.Minute
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 2 * time.Minute
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 5 * time.Minute
	}
	return l
}

// guard decides who a call comes from and whether it may proceed: it
// authenticates (peer certificate on the peer endpoint, bearer token on the
// API), and applies the rate limit of that identity and the policy. (The
// call's duration is capped earlier, by deadlines.)
type guard struct {
	member   string
	manifest *federation.Live
	// roots is the federation CA of the manifest in effect.
	roots  func() *x509.CertPool
	tokens auth.TokenStore
	policy *auth.Policy
	limits Limits
	// rates are the identities' buckets (tokens and peers, as many as
	// were issued); byAddress the buckets of anonymous callers and bad
	// credentials, one per client address, in a bounded room.
	rates, byAddress *rateLimiter
	// pulls and peerWatches count a peer's open Pulls and its other
	// streams (health watches), apart: watches, which a member's
	// monitoring may hold open for good, took the places of its pulls, and
	// its sync stopped (an outside review).
	pulls, peerWatches *streamLimiter
	unprotected        bool
	// refusals counts the limits' refusals (nil: not counted).
	refusals *prometheus.CounterVec
}

// admit returns ctx carrying the caller's identity, or the error that
// refuses the call. A method the server does not serve (unknown) is
// UNIMPLEMENTED once the caller is authenticated and within its rate, as
// grpc-go itself would answer it, not the policy's PERMISSION_DENIED: there
// is nothing to authorize, and a caller learns no more than grpc-go told it
// before and server reflection, open to all, tells it.
func (g *guard) admit(ctx context.Context, method string, unknown bool) (context.Context, error) {
	if a, ok := ctx.Value(admissionKey{}).(*admission); ok && a.method == method {
		// Admitted from its HTTP headers already (admitBeforeBody): its
		// rate is taken, its connection vouched for. Its credentials are
		// checked again, as every call's are when it runs: its body may
		// have come a minute after its headers, its token expired or
		// revoked meanwhile (an outside review wrote with one).
		if a.err != nil {
			return ctx, a.err
		}
		id, err := g.identify(ctx)
		if err != nil {
			return ctx, err
		}
		if id != a.id {
			return ctx, apperr.Unauthenticated("the call's credentials changed while its body was read; send it again")
		}
		return auth.WithIdentity(ctx, id), nil
	}
	ctx, id, err := g.authenticate(ctx)
	if err != nil {
		return ctx, err
	}
	if unknown {
		return ctx, apperr.Unimplemented("unknown method %s", method)
	}
	if g.unprotected {
		return ctx, nil
	}
	return ctx, g.policy.Authorize(id, method)
}

// authenticate identifies the caller and applies its rate limit, returning
// ctx carrying its identity.
func (g *guard) authenticate(ctx context.Context) (context.Context, auth.Identity, error) {
	id, err := g.identify(ctx)
	vouchedBy := ""
	if err == nil && id.Kind != auth.KindAnonymous {
		vouchedBy = id.String()
	}
	vouchForConnection(ctx, vouchedBy)
	if err != nil {
		// Bad credentials cost a lookup and a hash each: they share a
		// bucket per client address, so a flood of them is refused before
		// it costs more, and a mistyped token elsewhere is still told so.
		if wait := g.byAddress.take("rejected credentials from " + callerClient(ctx)); wait > 0 {
			g.refused(limitBadCredentials)
			return ctx, id, apperr.ResourceExhausted("too many calls with bad credentials; slow down and retry").RetryAfter(wait)
		}
		return ctx, id, err
	}
	ctx = auth.WithIdentity(ctx, id)
	return ctx, id, g.takeTurn(ctx, id)
}

// takeTurn takes one of id's calls from its rate limit: nil, or the
// RESOURCE_EXHAUSTED that tells it to wait.
func (g *guard) takeTurn(ctx context.Context, id auth.Identity) error {
	var wait time.Duration
	if id.Kind == auth.KindAnonymous {
		// Nothing names an anonymous caller but its address: one flooding
		// health checks slows its own, not a load balancer's.
		wait = g.byAddress.take("anonymous from " + callerClient(ctx))
	} else {
		wait = g.rates.take(id.String())
	}
	if wait > 0 {
		g.refused(limitCalls)
		return apperr.ResourceExhausted("%s is calling faster than %g calls a second; slow down and retry", id, g.limits.RatePerSecond).RetryAfter(wait)
	}
	return nil
}

// callerClient is the client a call came from, as the limits on
// connections count clients (netlimit.Client: an IPv6 /64 is one), or ""
// when the call names no address.
func callerClient(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	return netlimit.Client(p.Addr).String()
}

// vouchForConnection records the identity whose credentials ctx's call
// came with ("": none) on its connection (for a gateway call, its HTTP
// connection): while the last one did, a full listener does not close it
// to make room, unless that identity already keeps
// Limits.VouchedConnectionsPerIdentity of the listener's (netlimit.Vouch).
func vouchForConnection(ctx context.Context, identity string) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return
	}
	if g, ok := p.Addr.(gatewayAddr); ok {
		netlimit.Vouch(g.conn, identity)
		return
	}
	netlimit.Vouch(p.Addr, identity)
}

// refused counts a refusal by limit in the node's metrics.
func (g *guard) refused(limit string) {
	if g.refusals != nil {
		g.refusals.WithLabelValues(limit).Inc()
	}
}

func (g *guard) identify(ctx context.Context) (auth.Identity, error) {
	if g.unprotected {
		return auth.Identity{Kind: auth.KindUser, Member: g.member, Role: auth.RoleAdmin, TokenID: "unprotected"}, nil
	}
	if member, ok := pki.PeerFromContext(ctx); ok {
		if _, listed := g.manifest.Load().Member(member); !listed {
			return auth.Anonymous, apperr.PermissionDenied("%s's certificate is signed by the federation CA, but %s is not in this node's federation manifest", member, member)
		}
		if err := pki.ChainsTo(ctx, g.roots()); err != nil {
			// A connection made before the manifest changed the CA, or
			// before the certificate expired: the reason is x509's (an
			// expired one was told as not signed by the CA).
			return auth.Anonymous, apperr.PermissionDenied("%s's certificate does not verify with the federation CA of this node's manifest (serial %d): %v; connect again with one that does", member, g.manifest.Load().Serial, err)
		}
		return auth.Peer(member), nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	bearer, ok, err := auth.BearerFromMetadata(md)
	if err != nil || !ok {
		return auth.Anonymous, err
	}
	return auth.Authenticate(ctx, g.tokens, g.member, bearer, time.Now())
}

// rateLimiter keeps one token bucket per identity.
type rateLimiter struct {
	rate  float64
	burst float64
	// max, when not 0, bounds the buckets kept at once: keys of client
	// addresses come without number (one host may hold many IPv6 /64s).
	// Past it, after a sweep, new keys share the bucket crowdedKey.
	max     int
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

const (
	maxRateBuckets = 1 << 16
	crowdedKey     = "callers past the limiter's room"
)

func newRateLimiter(rate float64, burst, max int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), max: max, buckets: map[string]*bucket{}, swept: time.Now()}
}

// take takes a call's token from key's bucket and returns 0 or, when the
// bucket holds none, how long until it will (at most an hour): the wait a
// refused caller is told.
func (r *rateLimiter) take(key string) time.Duration {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	// Full buckets hold nothing worth keeping: drop them now and then (at
	// most once a second when the room is full), so a stream of distinct
	// identities cannot grow the map without bound.
	full := r.max > 0 && len(r.buckets) >= r.max
	if since := now.Sub(r.swept); since > time.Minute || full && since > time.Second {
		for k, b := range r.buckets {
			if b.tokens+now.Sub(b.last).Seconds()*r.rate >= r.burst {
				delete(r.buckets, k)
			}
		}
		r.swept = now
	}
	b := r.buckets[key]
	if b == nil && r.max > 0 && len(r.buckets) >= r.max {
		key = crowdedKey
		b = r.buckets[key]
	}
	if b == nil {
		b = &bucket{tokens: r.burst, last: now}
		r.buckets[key] = b
	}
	b.tokens = math.Min(r.burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens < 1 {
		seconds := (1 - b.tokens) / r.rate
		if !(seconds < time.Hour.Seconds()) { // a rate of 0 included
			return time.Hour
		}
		return max(time.Duration(seconds*float64(time.Second)), 1)
	}
	b.tokens--
	return 0
}

// streamLimiter counts open streams per key: what they are (in its
// refusal), at most max a key.
type streamLimiter struct {
	what string
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (s *streamLimiter) acquire(key string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[key] >= s.max {
		return nil, apperr.ResourceExhausted("%s already has %d %s open, the most a peer may; wait for one to end", key, s.max, s.what)
	}
	s.open[key]++
	return func() {
		s.mu.Lock()
		s.open[key]--
		if s.open[key] == 0 {
			delete(s.open, key)
		}
		s.mu.Unlock()
	}, nil
}
