// Package netlimit caps the connections a listener holds open: in total and
// per client (an IPv4 address, or an IPv6 /64: see Client). Each open connection costs a file descriptor, and a
// process has a fixed number of them; without a cap one client opening
// thousands of idle connections exhausts them and every other caller, the
// node's peers among them, then times out before it is even accepted.
//
// golang.org/x/net/netutil.LimitListener caps the total only, and it does so
// by not accepting: connections over the cap wait in the kernel's backlog,
// so a flood from one address still shuts everyone else out. Here a
// connection over either cap is accepted and closed at once (with a reset,
// so the node keeps no TIME_WAIT socket for it), and the slots held by one
// address never exceed its share, so callers from other addresses still get
// in. Refusals are logged at most once per LogEvery, with their count.
package netlimit

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// LogEvery is the shortest time between two log lines about refused
// connections of one listener.
const LogEvery = 10 * time.Second

// Listener accepts connections from an inner listener up to its caps.
type Listener struct {
	net.Listener
	name           string
	total, perAddr int
	log            *slog.Logger

	mu   sync.Mutex
	open int
	by   map[netip.Addr]int
	// refused counts the refusals since the last log line, logged is when
	// that line was written.
	refused int
	logged  time.Time
}

// Limit wraps l so it holds at most total connections at once, and at most
// perAddr from one client, as Client groups addresses (zero or less: no
// cap). name says which
// listener in log lines.
func Limit(l net.Listener, name string, total, perAddr int, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{Listener: l, name: name, total: total, perAddr: perAddr, log: log, by: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps; those over them are
// closed before Accept returns.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := Client(c.RemoteAddr())
		if l.acquire(addr) {
			return &conn{Conn: c, release: func() { l.release(addr) }}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// Open is the number of connections held now, in total and from the client
// that addr belongs to (its /64, for IPv6).
func (l *Listener) Open(addr netip.Addr) (total, fromClient int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.by[clientOf(addr)]
}

func (l *Listener) acquire(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (l.total > 0 && l.open >= l.total) || (l.perAddr > 0 && l.by[addr] >= l.perAddr) {
		l.refused++
		if now := time.Now(); now.Sub(l.logged) >= LogEvery {
			l.log.Warn("refused connections over the cap", "listener", l.name, "refused", l.refused, "last_from", addr.String(),
				"open", l.open, "open_from_last", l.by[addr], "cap", l.total, "cap_per_address", l.perAddr)
			l.refused, l.logged = 0, now
		}
		return false
	}
	l.open++
	l.by[addr]++
	return true
}

func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.by[addr]--; l.by[addr] <= 0 {
		delete(l.by, addr)
	}
}

// Client is the key that a connection from a is counted under: an IPv4
// address (IPv4-mapped IPv6 too), or the /64 prefix of an IPv6 address as
// its first address. One IPv6 host is routinely given a whole /64 (SLAAC,
// privacy addresses) and can use any address in it, so a cap per IPv6
// address would bind nobody. Connections without an IP address (a Unix
// socket) share the zero address.
func Client(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
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

// conn gives its slot back when it is first closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
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
