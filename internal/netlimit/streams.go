package netlimit

import (
	"net/netip"
	"sync"
	"time"
)

// A Listener's Streams caps count the HTTP/2 streams a server holds open
// for its connections, per client and in total, from the frames
// themselves (CountFrames): a stream opens when the client's HEADERS
// frame for a new stream is read, and ends when the server writes a frame
// that ends it (with END_STREAM, or a RST_STREAM), when the client resets
// it, or when its connection closes. The calls caps give a call's place
// back when its handler returns, and the Unsent bounds count the bytes of
// answers; but grpc-go writes a call's trailers behind its answer's DATA,
// which waits for the client's flow-control window, and holds the stream
// (about 3.5 KB) until they are written: a client that keeps its window
// shut held 119,000 finished health checks, 400 MB, from 8 addresses, each
// answer a few bytes (an outside review). A stream over a cap resets its
// connection before the server reads it, which frees what the server holds
// for the connection's other streams.
//
// Streams are tracked by id, not counted: a client resetting a stream
// that has ended, or one it never opened, gives back nothing.
//
// A full listener makes room for a client's stream, when the client is
// within its own cap, by resetting a connection of the network (as
// networkOf groups clients) that holds the most streams, if that network
// holds more than the client's would with it: of that network's
// connections, the one holding the most. Without it a flood from 16
// addresses held all 16384, and each new stream of any other client reset
// that client's connection for as long as the flood lasted; now the
// flood's own connections go first, and a network is kept to its share of
// a full listener, not shut out of it.

// opened counts the stream id that a client's HEADERS frame names, if it
// opens a new one (above any the client opened before: a stream's later
// HEADERS, its trailers, are not), or reports false, counting nothing,
// when it would pass a Streams cap.
func (c *conn) opened(id uint32) bool {
	c.mu.Lock()
	if c.closed || id <= c.lastStream {
		c.mu.Unlock()
		return true
	}
	c.lastStream = id
	// Making room looks at every connection's streams, this one's too:
	// c.mu is not held meanwhile (only c's reader calls opened).
	c.mu.Unlock()
	if !c.streams.acquire(c.client, false) && !c.listener.makeStreamRoom(c) {
		c.streams.refuse(c.client)
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		// forget gave back the others already.
		c.streams.Release(c.client)
		return true
	}
	if c.open == nil {
		c.open = map[uint32]struct{}{}
	}
	c.open[id] = struct{}{}
	return true
}

// makeStreamRoom counts one more stream for c's client, within its own cap
// but past the listener's, if it can reset a connection to make room (see
// the top of this file): the count passes the total until that
// connection's streams are given back, at once unless they end meanwhile.
func (l *Listener) makeStreamRoom(c *conn) bool {
	if _, clientFull := l.Streams.over(c.client); clientFull {
		return false // no scan of every connection for a client at its own cap
	}
	victim := l.holders.heaviest(c, (*conn).streamsHeld, 1, 1)
	if victim == nil || !l.Streams.acquire(c.client, true) {
		return false
	}
	victim.reset()
	l.Streams.displace(victim.client, "reset the connection holding the most streams of the network holding the most, to make room")
	return true
}

// holders are the connections of a listener whose streams or unsent
// answers are counted.
type holders struct {
	mu    sync.Mutex
	conns map[*conn]struct{}
}

func (h *holders) add(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns == nil {
		h.conns = map[*conn]struct{}{}
	}
	h.conns[c] = struct{}{}
}

func (h *holders) remove(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
}

// heaviest is the connection to reset to make room for more of c's
// (weighing more, as weigh weighs what a connection holds): of the network
// holding the most, if it holds more than c's would with more (so it is
// not c's), the connection holding the most whose last call did not show
// credentials (Vouch), if it holds at least need; otherwise nil. As when
// connections make room (room.go), a token or a member's certificate
// keeps its connection: without that, a client with no token in a light
// network reset an authenticated caller's connection, and its calls, for
// the price of one stream (a review). It looks at every connection,
// which only a full listener asks for.
func (h *holders) heaviest(c *conn, weigh func(*conn) int64, more, need int64) *conn {
	type holding struct {
		sum, most int64
		biggest   *conn // of those without credentials
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	networks := map[netip.Prefix]*holding{}
	for held := range h.conns {
		n := weigh(held)
		if n <= 0 {
			continue
		}
		key := networkOf(held.client)
		load := networks[key]
		if load == nil {
			load = &holding{}
			networks[key] = load
		}
		load.sum += n
		if n > load.most && !held.vouched.Load() {
			load.most, load.biggest = n, held
		}
	}
	var heaviest *holding
	for _, load := range networks {
		if load.most >= need && (heaviest == nil || load.sum > heaviest.sum) {
			heaviest = load
		}
	}
	var ours int64
	if load := networks[networkOf(c.client)]; load != nil {
		ours = load.sum
	}
	if heaviest == nil || heaviest.sum <= ours+more {
		return nil
	}
	return heaviest.biggest
}

// streamsHeld is the number of streams open on c.
func (c *conn) streamsHeld() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.open))
}

// ended gives back stream id's place, if it holds one.
func (c *conn) ended(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endedLocked(id)
}

// cancelled gives back the place of stream id, which the client reset,
// and reports false when it held one and the reset is past the client's
// budget on c (the listener's Resets).
func (c *conn) cancelled(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	budget := c.listener.Resets
	if !c.endedLocked(id) || budget == nil || budget.spend(&c.resets, time.Now()) {
		return true
	}
	budget.refusals.refuse(c.client)
	return false
}

// endedLocked gives back stream id's place, and reports whether it held
// one. c.mu is held.
func (c *conn) endedLocked(id uint32) bool {
	if _, ok := c.open[id]; !ok {
		return false
	}
	delete(c.open, id)
	c.streams.Release(c.client)
	return true
}

// forget gives back what c still holds, unsent answers and open streams,
// once it is closed.
func (c *conn) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.unsent != nil {
		c.unsent.add(c.client, c.written-c.queued, false, false)
	}
	for range c.open {
		c.streams.Release(c.client)
	}
	c.open = nil
}
