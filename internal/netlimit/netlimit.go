// Package netlimit caps what clients hold open at once, in total and per
// client (an IPv4 address, or an IPv6 /64: see Client): the connections a
// listener holds (Limit), and anything else counted by Caps, such as the
// calls a server has in flight, or the HTTP/2 streams it holds open
// (Listener.Streams). Each open connection costs a file descriptor, and a
// process has a fixed number of them; without a cap one client opening
// thousands of idle connections exhausts them and every other caller, the
// node's peers among them, then times out before it is even accepted. Each call in flight costs a goroutine and its buffers,
// from its headers on, before the node knows who calls.
//
// golang.org/x/net/netutil.LimitListener caps the total only, and it does so
// by not accepting: connections over the cap wait in the kernel's backlog,
// so a flood from one address still shuts everyone else out. Here a
// connection over either cap is accepted and closed at once (with a reset,
// so the node keeps no TIME_WAIT socket for it), and the slots held by one
// address never exceed its share, so callers from other addresses still get
// in. Refusals are logged at most once per LogEvery, with their count.
//
// The cap per address cannot stop a client that holds many addresses: 16
// of them fill a listener of 4096 at 256 each. So a full listener makes
// room for a new connection by closing one on which the last call did not
// show credentials that verify (Touch, Vouch), or whose identity's
// credentials already keep VouchedPerIdentity others open (one member's
// certificate, one token, held all 4096 places), from the network that holds
// the most of those, the one of them that has gone longest without
// beginning a call: a flood's own connections are the first to go, and it
// keeps out a caller with credentials only from the caller's own network,
// or from as many networks as the listener has places not held by
// connections with credentials (room.go).
package netlimit

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LogEvery is the shortest time between two log lines about refused
// connections of one listener.
const LogEvery = 10 * time.Second

// Caps counts what clients hold open, up to total at once and perAddr
// from one client (zero or less: no cap).
type Caps struct {
	name, what     string
	total, perAddr int
	log            *slog.Logger

	mu   sync.Mutex
	open int
	by   map[netip.Addr]int
	// refused counts the refusals since the last log line and displaced
	// those closed to make room (as displacedHow says), logged is when that line was
	// written, last is the client refused (or displaced) last; flush logs
	// counts left unlogged once logEvery has passed, so that a burst
	// followed by quiet is not logged as its first refusal alone.
	refused, displaced int
	displacedHow       string
	logged             time.Time
	last               netip.Addr
	flush              *time.Timer
	logEvery           time.Duration
}

// NewCaps makes caps of total and perAddr; name says whose and what what
// they count in log lines ("gRPC", "calls").
func NewCaps(name, what string, total, perAddr int, log *slog.Logger) *Caps {
	if log == nil {
		log = slog.Default()
	}
	return &Caps{name: name, what: what, total: total, perAddr: perAddr, log: log, by: map[netip.Addr]int{}, logEvery: LogEvery}
}

// Listener accepts connections from an inner listener up to its caps.
type Listener struct {
	net.Listener
	*Caps
	// Unsent, when set (before the first Accept), bounds the answers
	// queued for its connections and not yet written.
	Unsent *Unsent
	// VouchedPerIdentity, when above zero (set before the first Accept),
	// bounds the connections one identity's credentials keep from being
	// closed to make room (Vouch); its others may be closed as those
	// without credentials are.
	VouchedPerIdentity int
	// Streams, when set (before the first Accept), caps the HTTP/2
	// streams a server holds open for its connections (streams.go).
	Streams *Caps
	// Resets, when set with Streams (before the first Accept), bound the
	// streams held open that each connection's client resets (resets.go).
	Resets *Resets

	// unvouched are the connections a full listener may close to make
	// room; holders those whose streams or unsent answers are counted.
	unvouched unvouched
	holders   holders

	// outOfFiles counts the accepts that found no file descriptor left
	// since the last line that said so (outOfFilesLogged).
	outOfFilesMu     sync.Mutex
	outOfFiles       int
	outOfFilesLogged time.Time
}

// Limit wraps l so it holds at most total connections at once, and at most
// perAddr from one client, as Client groups addresses (zero or less: no
// cap). name says which listener in log lines.
func Limit(l net.Listener, name string, total, perAddr int, log *slog.Logger) *Listener {
	return &Listener{Listener: l, Caps: NewCaps(name, "connections", total, perAddr, log)}
}

// Drop resets the connection a Listener accepted whose RemoteAddr is
// remote (as a server reports it: grpc-go's peer, through TLS too), and
// reports whether remote is one. The address itself names its connection:
// a client may connect twice in turn from one address and port.
func Drop(remote net.Addr) bool {
	a, ok := remote.(*connAddr)
	if !ok {
		return false
	}
	a.c.reset()
	return true
}

// Accept returns the next connection within the caps; those over them are
// closed before Accept returns. When the listener is full and the new
// connection's client is within its own cap, a connection is closed to
// make room, if one may be (see unvouched). An accept that finds no file
// descriptor left waits and tries again, as net/http does, but says so at
// most once per LogEvery (net/http logged it every second: an outside
// review).
func (l *Listener) Accept() (net.Conn, error) {
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			l.noteOutOfFiles(err, wait)
			time.Sleep(wait)
			continue
		}
		if err != nil {
			return nil, err
		}
		addr := Client(c.RemoteAddr())
		if full, clientFull := l.over(addr); full && !clientFull {
			l.makeRoom()
		}
		if l.Acquire(addr) {
			held := &conn{Conn: c, listener: l, unsent: l.Unsent, streams: l.Streams, client: addr}
			held.remote = &connAddr{Addr: c.RemoteAddr(), c: held}
			l.unvouched.add(held)
			if l.Streams != nil || l.Unsent != nil {
				l.holders.add(held)
			}
			return held, nil
		}
		resetClose(c)
	}
}

// noteOutOfFiles counts an accept that found no file descriptor left, and
// logs the count once LogEvery has passed since the last line.
func (l *Listener) noteOutOfFiles(err error, wait time.Duration) {
	l.outOfFilesMu.Lock()
	defer l.outOfFilesMu.Unlock()
	l.outOfFiles++
	if time.Since(l.outOfFilesLogged) < l.logEvery {
		return
	}
	l.log.Warn("no file descriptor left to accept a connection; waiting for connections to close (raise the open-file limit, or lower --max-connections)",
		"listener", l.name, "failed_accepts", l.outOfFiles, "err", err, "retrying_in", wait)
	l.outOfFiles, l.outOfFilesLogged = 0, time.Now()
}

// Open is the number held now, in total and from the client that addr
// belongs to (its /64, for IPv6).
func (c *Caps) Open(addr netip.Addr) (total, fromClient int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.by[clientOf(addr)]
}

// Acquire counts one more for client (as Client returns it), or reports
// false, counting nothing, when that would pass either cap.
func (c *Caps) Acquire(client netip.Addr) bool {
	if c.acquire(client, false) {
		return true
	}
	c.refuse(client)
	return false
}

// acquire counts one more for client within its own cap, and within the
// total unless overTotal, reporting false, counting nothing, otherwise.
func (c *Caps) acquire(client netip.Addr, overTotal bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if full, clientFull := c.overLocked(client); clientFull || full && !overTotal {
		return false
	}
	c.open++
	c.by[client]++
	return true
}

// refuse counts, for the log, one refused to client.
func (c *Caps) refuse(client netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused++
	c.noteLocked(client)
}

// displace counts, for the log, one of client's closed to make room, as
// the log line says (how).
func (c *Caps) displace(client netip.Addr, how string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.displaced++
	c.displacedHow = how
	c.noteLocked(client)
}

// over reports whether one more for client would pass the total cap, and
// its own.
func (c *Caps) over(client netip.Addr) (full, clientFull bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overLocked(client)
}

func (c *Caps) overLocked(client netip.Addr) (full, clientFull bool) {
	return c.total > 0 && c.open >= c.total, c.perAddr > 0 && c.by[client] >= c.perAddr
}

// noteLocked logs the refusals and displacements counted so far, now or
// once LogEvery has passed since the last line. c.mu is held.
func (c *Caps) noteLocked(client netip.Addr) {
	c.last = client
	if since := time.Since(c.logged); since >= c.logEvery {
		c.logCounts()
	} else if c.flush == nil {
		c.flush = time.AfterFunc(c.logEvery-since, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.flush = nil
			if c.refused > 0 || c.displaced > 0 {
				c.logCounts()
			}
		})
	}
}

// logCounts logs the refusals and displacements counted since the last
// line. c.mu is held.
func (c *Caps) logCounts() {
	msg := "refused " + c.what + " over the cap"
	if c.refused == 0 {
		msg = c.displacedHow
	}
	args := []any{"listener", c.name, "refused", c.refused, "displaced", c.displaced, "last_from", c.last.String()}
	if c.total > 0 || c.perAddr > 0 {
		// Caps that cap nothing only log (a Resets budget's refusals).
		args = append(args, "open", c.open, "open_from_last", c.by[c.last], "cap", c.total, "cap_per_address", c.perAddr)
	}
	c.log.Warn(msg, args...)
	c.refused, c.displaced, c.logged = 0, 0, time.Now()
}

// Release counts one less for client, after Acquire.
func (c *Caps) Release(client netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	if c.by[client]--; c.by[client] <= 0 {
		delete(c.by, client)
	}
}

// Client is the key that a connection from a is counted under: an IPv4
// address (IPv4-mapped IPv6 too), or the /64 prefix of an IPv6 address as
// its first address. One IPv6 host is routinely given a whole /64 (SLAAC,
// privacy addresses) and can use any address in it, so a cap per IPv6
// address would bind nobody. Connections without an IP address (a Unix
// socket) share the zero address.
func Client(a net.Addr) netip.Addr {
	return ClientAt(a.String())
}

// ClientAt is Client of an address written "host:port" (an
// http.Request's RemoteAddr).
func ClientAt(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return clientOf(ap.Addr())
	}
	return netip.Addr{}
}

func clientOf(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		// The zone (fe80::1%eth0) names the local interface, not the client.
		p, _ := a.WithZone("").Prefix(64)
		return p.Addr()
	}
	return a
}

// conn gives its slot back when it is first closed, and counts the bytes
// of answers queued for it and written to it (Unsent), and the streams
// open on it (Streams), from its frames (CountFrames).
type conn struct {
	net.Conn
	once     sync.Once
	listener *Listener
	remote   *connAddr
	unsent   *Unsent // nil: not counted
	streams  *Caps   // nil: not counted
	client   netip.Addr
	// vouched: the last call came with credentials (Vouch), and their
	// identity, vouchedBy, keeps c from closing. The rest place c in
	// listener.unvouched (inSet, in network's list by prev and next,
	// marked when its last call began), and gone says it closed; all are
	// guarded by listener.unvouched.mu (vouched is written under it).
	vouched    atomic.Bool
	vouchedBy  string
	inSet      bool
	network    *network
	prev, next *conn
	mark       uint64
	gone       bool

	mu              sync.Mutex
	queued, written int64
	open            map[uint32]struct{} // the streams counted under streams
	lastStream      uint32              // the highest stream id the client opened
	resets          resetBudget         // of listener.Resets
	closed          bool
}

// connAddr is a conn's RemoteAddr: the client's address (its String is
// that address's), and the connection, for Drop.
type connAddr struct {
	net.Addr
	c *conn
}

func (c *conn) RemoteAddr() net.Addr { return c.remote }

// reset closes c with a reset, so the node keeps no TIME_WAIT socket for
// a connection it refuses.
func (c *conn) reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// resetClose closes c, which holds no slot, with a reset.
func resetClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.forget()
		c.listener.unvouched.forget(c)
		c.listener.holders.remove(c)
		c.listener.Release(c.client)
	})
	return err
}

// CloseWrite lets net/http half-close a connection whose request body it
// did not read, as it does with a bare *net.TCPConn, so the client gets the
// response before a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
