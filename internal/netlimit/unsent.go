package netlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Unsent bounds the bytes of answers a server has queued for a listener's
// connections and not yet written to them, per connection, per client and
// in total. An HTTP/2 server queues an answer whole once its call has
// ended (grpc-go does not wait for the client's flow-control window), so
// the call no longer counts under the calls caps while its answer waits;
// a client that keeps its window shut kept every answer it asked for in
// the node's memory, for as long as it liked: gigabytes from one address,
// through reflection with no token at all (an outside review ran a node
// out of memory that way). The server asks Queue before it queues an
// answer; the answers' bytes written to the connection give the budget
// back (CountFrames): only the payload of DATA frames, which wait for the
// client's window. Every byte written did at first, and a client with its
// window shut earned credit by making the node answer frames that do not
// wait (an empty SETTINGS frame for its 9-byte ACK: 3.9 GB in an outside
// review). A server resets a connection whose answer would pass a bound
// (Drop): that gives back what grpc-go holds for it, including answers it
// dropped unwritten (a stream the client reset), which Queue counted and
// nothing will give back otherwise. An HTTP server, whose writes return
// only once the connection has taken their bytes, counts each write's
// bytes by client while it lasts instead (Hold, GiveBack).
type Unsent struct {
	perConn, perClient, total int64

	mu  sync.Mutex
	sum int64
	by  map[netip.Addr]int64
}

// NewUnsent bounds unsent answers to perConn bytes on one connection,
// perClient on all of one client's, total on all of a listener's.
func NewUnsent(perConn, perClient, total int64) *Unsent {
	return &Unsent{perConn: perConn, perClient: perClient, total: total, by: map[netip.Addr]int64{}}
}

// Held is the unsent bytes of the connections of the client that addr
// belongs to, and of all the listener's.
func (u *Unsent) Held(addr netip.Addr) (total, fromClient int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sum, u.by[clientOf(addr)]
}

// add changes client's unsent bytes by delta; when bounded, a growth that
// passes the client's bound is refused, and one that passes the total
// unless overTotal (full says that it would, alone).
func (u *Unsent) add(client netip.Addr, delta int64, bounded, overTotal bool) (ok, full bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if bounded && delta > 0 {
		if u.by[client]+delta > u.perClient {
			return false, false
		}
		if u.sum+delta > u.total && !overTotal {
			return false, true
		}
	}
	u.sum += delta
	if u.by[client] += delta; u.by[client] <= 0 {
		delete(u.by, client)
	}
	return true, false
}

// Hold counts n bytes of an answer being written to the client that addr
// belongs to, by a server whose writes return once the connection has
// taken them (an HTTP server's): it gives them back then (GiveBack). It
// reports false, counting nothing, when they would pass the client's
// bound or the total: the client has left that much unread.
func (u *Unsent) Hold(addr netip.Addr, n int64) bool {
	ok, _ := u.add(clientOf(addr), n, true, false)
	return ok
}

// GiveBack gives back n bytes Hold counted for the client that addr
// belongs to.
func (u *Unsent) GiveBack(addr netip.Addr, n int64) {
	u.add(clientOf(addr), -n, false, false)
}

// past is how far more unsent bytes would pass the total.
func (u *Unsent) past(more int64) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sum + more - u.total
}

// Queue counts n bytes of an answer about to be queued for the connection
// whose RemoteAddr is remote (as Drop takes it), or reports false, counting
// nothing, when they would pass a bound: the client has left that much
// unread (the caller should Drop the connection). A connection not
// accepted by a Listener with Unsent bounds is never refused.
func Queue(remote net.Addr, n int) bool {
	a, ok := remote.(*connAddr)
	if !ok || a.c.unsent == nil {
		return true
	}
	return a.c.account(int64(n), 0)
}

// account adds queued and written bytes to c's, and the change of its
// unsent bytes to its client's and the total. More queued is refused,
// counting nothing, past a bound; past the total alone, a connection of
// another network that holds at least what the answer passes the total by
// is reset to make room instead, if that network holds more than c's
// would with it (as for streams: streams.go), and the total is passed
// until that connection's bytes are given back, at once.
func (c *conn) account(queued, written int64) bool {
	ok, full := c.accountWithin(queued, written, false)
	if ok || !full {
		return ok
	}
	// The connection reset must free what the answer passes the total
	// by: one holding less left the total passed, by as much as each
	// fresh network's answers (700 bytes held of 250: a review).
	victim := c.listener.holders.heaviest(c, (*conn).unsentHeld, queued, c.unsent.past(queued))
	if victim == nil {
		return false
	}
	if ok, _ = c.accountWithin(queued, written, true); ok {
		victim.reset()
	}
	return ok
}

// accountWithin is account within the total bound, or past it when
// overTotal; full says it was refused for the total alone.
func (c *conn) accountWithin(queued, written int64, overTotal bool) (ok, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return true, false // nothing will hold an answer for it
	}
	before := c.queued - c.written
	after := max(0, c.queued+queued-c.written-written)
	if queued > 0 && after > before && after > c.unsent.perConn {
		return false, false
	}
	if ok, full = c.unsent.add(c.client, after-before, queued > 0, overTotal); !ok {
		return false, full
	}
	c.queued += queued
	// What is written beyond what was queued (each message's 5-byte
	// prefix) is not carried over to later answers.
	c.written = min(c.written+written, c.queued)
	return true, false
}

// unsentHeld is the bytes queued for c and not yet written.
func (c *conn) unsentHeld() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued - c.written
}
