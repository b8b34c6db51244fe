package netlimit

import (
	"container/heap"
	"net"
	"net/netip"
	"sync"
)

// unvouched holds a listener's connections that a full listener may close
// to make room: those whose last call has not shown valid credentials
// (none has begun, or one began and its credentials did not verify, or
// have not yet), and those whose last call's identity already keeps
// Listener.VouchedPerIdentity others from closing. They are grouped by
// network (networkOf), each network's connections in the order their last
// call began (or they were accepted),
// and the networks kept in a heap: the one holding the most first, and of
// two holding as many, the one whose first connection has waited longest.
// The connection closed is the first of the first network: a flood's own
// connections go first, however fast it connects, and a new caller's
// connection, from a network that holds fewer, is not closed before its
// first call says who calls (closing the listener's idlest instead let a
// flood that connects fast enough close every new connection before its
// first call).
type unvouched struct {
	mu       sync.Mutex
	networks map[netip.Prefix]*network
	byCount  networkHeap
	// clock orders calls' beginnings (and acceptances): a counter, not
	// the time, so that every mark is distinct and costs nothing.
	clock uint64
	// vouchedBy counts, by identity, the connections kept from closing
	// (each conn's vouchedBy). Without a bound, one member's certificate
	// or one token held every place of a full listener, its connections
	// vouched for by a call each now and then, and kept the other members
	// and token holders out (an outside review: 4096 connections of one
	// member on the peer endpoint).
	vouchedBy map[string]int
}

// network is the unvouched connections of one network, a list linked
// through the connections themselves (no allocation when a call begins).
type network struct {
	prefix      netip.Prefix
	first, last *conn // first: the one whose last call began longest ago
	count       int
	index       int // in byCount; -1 when out of it
}

// networkOf is the network a client (as Client gives it) belongs to for
// making room: an IPv4 /24, an IPv6 /48 (what one site is routinely given).
// A client holding many addresses holds them in few networks.
func networkOf(client netip.Addr) netip.Prefix {
	bits := 24
	if client.Is6() {
		bits = 48
	}
	p, _ := client.Prefix(bits)
	return p
}

// appendLocked puts c, not in u, at the end of its network's order.
// u.mu is held.
func (u *unvouched) appendLocked(c *conn) {
	if c.gone {
		return
	}
	if u.networks == nil {
		u.networks = map[netip.Prefix]*network{}
	}
	key := networkOf(c.client)
	n := u.networks[key]
	if n == nil {
		// The network c was last in, if no other holds it, saves an
		// allocation each time a lone connection's call begins.
		if n = c.network; n == nil || n.index >= 0 || n.prefix != key {
			n = &network{prefix: key}
		}
		u.networks[key] = n
		heap.Push(&u.byCount, n)
	}
	u.clock++
	c.mark = u.clock
	c.network, c.inSet = n, true
	c.prev, c.next = n.last, nil
	if n.last != nil {
		n.last.next = c
	} else {
		n.first = c
	}
	n.last = c
	n.count++
	heap.Fix(&u.byCount, n.index)
}

// removeLocked takes c out of u, if it is there. u.mu is held.
func (u *unvouched) removeLocked(c *conn) {
	if !c.inSet {
		return
	}
	n := c.network
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		n.first = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		n.last = c.prev
	}
	c.prev, c.next, c.inSet = nil, nil, false
	if n.count--; n.count == 0 {
		heap.Remove(&u.byCount, n.index)
		delete(u.networks, n.prefix)
		return
	}
	heap.Fix(&u.byCount, n.index)
}

// add puts c, just accepted, in u.
func (u *unvouched) add(c *conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.appendLocked(c)
}

// forget takes c, closed, out of u for good.
func (u *unvouched) forget(c *conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c.gone = true
	u.releaseLocked(c)
	u.removeLocked(c)
}

// touch records that a call begins on c: it goes to the end of its
// network's order, and may be closed to make room until the call's
// credentials verify (vouch).
func (u *unvouched) touch(c *conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.releaseLocked(c)
	u.removeLocked(c)
	u.appendLocked(c)
}

// vouch records the identity whose credentials c's call came with, ""
// when none verify: c is kept from closing if that identity keeps fewer
// than perIdentity others (zero or less: no bound). Otherwise it stays
// where it is among those that may be closed, or goes to the end of its
// network's order if it was kept until now.
func (u *unvouched) vouch(c *conn, identity string, perIdentity int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c.gone || c.vouchedBy == identity {
		return
	}
	u.releaseLocked(c)
	if identity != "" && (perIdentity <= 0 || u.vouchedBy[identity] < perIdentity) {
		if u.vouchedBy == nil {
			u.vouchedBy = map[string]int{}
		}
		u.vouchedBy[identity]++
		c.vouchedBy = identity
		c.vouched.Store(true)
		u.removeLocked(c)
		return
	}
	if !c.inSet {
		u.appendLocked(c)
	}
}

// releaseLocked gives back the place c's identity kept for it, if any.
// u.mu is held.
func (u *unvouched) releaseLocked(c *conn) {
	if c.vouchedBy == "" {
		return
	}
	if u.vouchedBy[c.vouchedBy]--; u.vouchedBy[c.vouchedBy] <= 0 {
		delete(u.vouchedBy, c.vouchedBy)
	}
	c.vouchedBy = ""
	c.vouched.Store(false)
}

// takeVictim takes out of u the connection to close to make room, or
// returns nil when there is none.
func (u *unvouched) takeVictim() *conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.byCount) == 0 {
		return nil
	}
	c := u.byCount[0].first
	u.removeLocked(c)
	return c
}

// makeRoom closes the connection u picks, if any, giving its slot back
// before it returns.
func (l *Listener) makeRoom() {
	victim := l.unvouched.takeVictim()
	if victim == nil {
		return
	}
	victim.reset()
	l.displace(victim.client, "closed connections without credentials, or past their identity's share, to make room")
}

// Touch records that a call begins on the connection a Listener accepted
// whose RemoteAddr is remote (as Drop takes it): it is the last of its
// network to be closed to make room, and it may be closed until Vouch
// says the call's credentials verify, whatever earlier calls showed (a
// token revoked since, a call whose message never comes). Other addresses
// are ignored.
func Touch(remote net.Addr) {
	if a, ok := remote.(*connAddr); ok {
		a.c.listener.unvouched.touch(a.c)
	}
}

// Vouch records the identity (a member, a token: any string that names
// one) whose valid credentials a call on the connection whose RemoteAddr
// is remote (as Drop takes it) came with, or "" when it came with none
// that verify: from then until the next call begins (Touch), the
// connection is not closed to make room, unless that identity already
// keeps VouchedPerIdentity connections of the listener so. With calls
// overlapping, the last checked decides. Other addresses are ignored.
func Vouch(remote net.Addr, identity string) {
	a, ok := remote.(*connAddr)
	if !ok || identity == "" && !a.c.vouched.Load() {
		return
	}
	a.c.listener.unvouched.vouch(a.c, identity, a.c.listener.VouchedPerIdentity)
}

// networkHeap orders networks by how many connections they hold, most
// first, then by how long their first has waited, longest first.
type networkHeap []*network

func (h networkHeap) Len() int { return len(h) }
func (h networkHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].first.mark < h[j].first.mark
}
func (h networkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *networkHeap) Push(x any) {
	n := x.(*network)
	n.index = len(*h)
	*h = append(*h, n)
}
func (h *networkHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	old[len(old)-1] = nil
	n.index = -1
	*h = old[:len(old)-1]
	return n
}
