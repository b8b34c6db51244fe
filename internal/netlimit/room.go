package netlimit

import (
	"container/heap"
	"container/list"
	"net"
	"net/netip"
	"sync"
)

// unvouched holds a listener's connections on which the last call did not
// come with credentials (or none has come yet), the ones a full listener
// may close to make room. They are grouped by network (networkOf), each
// network's connections in the order of their last call's beginning (or
// their acceptance), and the networks kept in a heap by how many they hold.
// The connection closed is the one of the network holding the most that
// has gone longest without beginning a call: a flood's own connections go
// first, however fast it connects, and a new caller's connection, from a
// network that holds few, is not closed before its first call says who
// calls (closing the listener's idlest instead let a flood that connects
// fast enough close every new connection before its first call).
type unvouched struct {
	mu       sync.Mutex
	networks map[netip.Prefix]*network
	byCount  networkHeap
}

// network is the unvouched connections of one network.
type network struct {
	prefix netip.Prefix
	conns  list.List // of *conn, the one whose last call began longest ago first
	index  int       // in byCount
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

// add puts c in u, its last call beginning now. u.mu is held.
func (u *unvouched) addLocked(c *conn) {
	if c.gone {
		return
	}
	if u.networks == nil {
		u.networks = map[netip.Prefix]*network{}
	}
	key := networkOf(c.client)
	n := u.networks[key]
	if n == nil {
		n = &network{prefix: key}
		u.networks[key] = n
		heap.Push(&u.byCount, n)
	}
	c.idle, c.network = n.conns.PushBack(c), n
	heap.Fix(&u.byCount, n.index)
}

// removeLocked takes c out of u, if it is there. u.mu is held.
func (u *unvouched) removeLocked(c *conn) {
	if c.idle == nil {
		return
	}
	n := c.network
	n.conns.Remove(c.idle)
	c.idle, c.network = nil, nil
	if n.conns.Len() == 0 {
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
	u.addLocked(c)
}

// forget takes c, closed, out of u for good.
func (u *unvouched) forget(c *conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c.gone = true
	u.removeLocked(c)
}

// touch moves c to the end of its network's order.
func (u *unvouched) touch(c *conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c.idle != nil {
		c.network.conns.MoveToBack(c.idle)
	}
}

// vouch records whether c's last call came with credentials.
func (u *unvouched) vouch(c *conn, vouched bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c.vouched.Load() == vouched {
		return
	}
	c.vouched.Store(vouched)
	if vouched {
		u.removeLocked(c)
	} else {
		u.addLocked(c)
	}
}

// takeVictim takes out of u the connection to close to make room, or
// returns nil when there is none.
func (u *unvouched) takeVictim() *conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.byCount) == 0 {
		return nil
	}
	c := u.byCount[0].conns.Front().Value.(*conn)
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
	l.mu.Lock()
	l.displaced++
	l.noteLocked(victim.client)
	l.mu.Unlock()
}

// Touch records that a call begins on the connection a Listener accepted
// whose RemoteAddr is remote (as Drop takes it), so that it is the last of
// its network to be closed to make room. Other addresses are ignored.
func Touch(remote net.Addr) {
	a, ok := remote.(*connAddr)
	// Calls of callers with credentials touch and vouch every time: the
	// atomic load spares them the listener's lock.
	if !ok || a.c.vouched.Load() {
		return
	}
	a.c.listener.unvouched.touch(a.c)
}

// Vouch records whether a call on the connection whose RemoteAddr is
// remote (as Drop takes it) came with valid credentials: while the last
// one did, it is not closed to make room. A connection whose token was
// revoked is open to closing again at its next call. Other addresses are
// ignored.
func Vouch(remote net.Addr, vouched bool) {
	a, ok := remote.(*connAddr)
	if !ok || a.c.vouched.Load() == vouched {
		return
	}
	a.c.listener.unvouched.vouch(a.c, vouched)
}

type networkHeap []*network

func (h networkHeap) Len() int           { return len(h) }
func (h networkHeap) Less(i, j int) bool { return h[i].conns.Len() > h[j].conns.Len() }
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
	*h = old[:len(old)-1]
	return n
}
