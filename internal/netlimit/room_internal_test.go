package netlimit

import (
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// A randomized test of room.go's bookkeeping against a simple model
// (written by an outside review): random accepts, calls' beginnings,
// credentials, closes and drops, after each of which the heap, the lists
// and the next connection to close must agree with the model.

type mConn struct {
	net.Conn
	remote net.Addr
	mu     sync.Mutex
	closed bool
}

func (c *mConn) RemoteAddr() net.Addr { return c.remote }
func (c *mConn) Close() error         { c.mu.Lock(); c.closed = true; c.mu.Unlock(); return nil }
func (c *mConn) isClosed() bool       { c.mu.Lock(); defer c.mu.Unlock(); return c.closed }

type mListener struct {
	net.Listener
	next chan net.Conn
}

func (l *mListener) Accept() (net.Conn, error) { return <-l.next, nil }

// checkRoom verifies every invariant of u. u.mu is not held by the caller.
func checkRoom(t *testing.T, u *unvouched, live map[*conn]bool) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	h := u.byCount
	if len(h) != len(u.networks) {
		t.Fatalf("heap holds %d networks, map %d", len(h), len(u.networks))
	}
	inLists := map[*conn]bool{}
	for i, n := range h {
		if n.index != i {
			t.Fatalf("network %s at %d has index %d", n.prefix, i, n.index)
		}
		if u.networks[n.prefix] != n {
			t.Fatalf("network %s in heap is not the map's", n.prefix)
		}
		if n.count <= 0 || n.first == nil || n.last == nil {
			t.Fatalf("network %s in heap: count %d first %v last %v", n.prefix, n.count, n.first, n.last)
		}
		for _, j := range []int{2*i + 1, 2*i + 2} {
			if j < len(h) && h.Less(j, i) {
				t.Fatalf("heap property broken: child %d (%s count %d mark %d) before parent %d (%s count %d mark %d)",
					j, h[j].prefix, h[j].count, h[j].first.mark, i, n.prefix, n.count, n.first.mark)
			}
		}
		k := 0
		var prev *conn
		for c := n.first; c != nil; c = c.next {
			if c.prev != prev {
				t.Fatalf("network %s: prev link broken", n.prefix)
			}
			if prev != nil && prev.mark >= c.mark {
				t.Fatalf("network %s: marks out of order %d then %d", n.prefix, prev.mark, c.mark)
			}
			if !c.inSet || c.network != n || c.gone || networkOf(c.client) != n.prefix {
				t.Fatalf("network %s: conn inSet %v network-ok %v gone %v", n.prefix, c.inSet, c.network == n, c.gone)
			}
			if c.vouched.Load() {
				t.Fatalf("network %s: a vouched connection is in the set", n.prefix)
			}
			inLists[c] = true
			prev = c
			k++
		}
		if prev != n.last || k != n.count {
			t.Fatalf("network %s: count %d, list %d, last ok %v", n.prefix, n.count, k, prev == n.last)
		}
	}
	kept := map[string]int{}
	for c := range live {
		if c.inSet != inLists[c] {
			t.Fatalf("conn %s inSet %v but in lists %v", c.remote, c.inSet, inLists[c])
		}
		if c.vouched.Load() != (c.vouchedBy != "") || c.vouchedBy != "" && c.inSet {
			t.Fatalf("conn %s vouched %v, by %q, inSet %v", c.remote, c.vouched.Load(), c.vouchedBy, c.inSet)
		}
		if c.vouchedBy != "" {
			kept[c.vouchedBy]++
		}
	}
	if live != nil && fmt.Sprint(kept) != fmt.Sprint(u.vouchedBy) {
		t.Fatalf("identities keep %v, counted %v", kept, u.vouchedBy)
	}
	if len(inLists) > len(live) && live != nil {
		t.Fatalf("lists hold %d conns, %d live", len(inLists), len(live))
	}
}

// model is the reference: each live connection's state.
type model struct {
	clock uint64
	conns map[*conn]*mState
}

type mState struct {
	inSet     bool
	vouchedBy string // "": not kept from closing
	mark      uint64
}

func (m *model) victim() *conn {
	type agg struct {
		count int
		first *conn
	}
	nets := map[netip.Prefix]*agg{}
	for c, s := range m.conns {
		if !s.inSet {
			continue
		}
		k := networkOf(c.client)
		a := nets[k]
		if a == nil {
			a = &agg{}
			nets[k] = a
		}
		a.count++
		if a.first == nil || m.conns[a.first].mark > s.mark {
			a.first = c
		}
	}
	var best *agg
	for _, a := range nets {
		if best == nil || a.count > best.count || (a.count == best.count && m.conns[a.first].mark < m.conns[best.first].mark) {
			best = a
		}
	}
	if best == nil {
		return nil
	}
	return best.first
}

func (m *model) append(c *conn) {
	m.clock++
	s := m.conns[c]
	s.inSet, s.mark = true, m.clock
}

func TestRoomModel(t *testing.T) {
	for seed := int64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { roomModel(t, seed) })
	}
}

func roomModel(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	total := 2 + rng.Intn(12)
	perAddr := 1 + rng.Intn(4)
	in := &mListener{next: make(chan net.Conn, 1)}
	l := Limit(in, "model", total, perAddr, slog.New(slog.DiscardHandler))
	l.VouchedPerIdentity = rng.Intn(4) // 0: no bound
	identities := []string{"", "a", "b"}
	// Addresses: a few /24s with several hosts each, and IPv6 /48s.
	var addrs []string
	for n := 0; n < 1+rng.Intn(4); n++ {
		for h := 0; h < 1+rng.Intn(3); h++ {
			addrs = append(addrs, fmt.Sprintf("10.0.%d.%d", n, h+1))
		}
	}
	for n := 0; n < rng.Intn(3); n++ {
		addrs = append(addrs, fmt.Sprintf("2001:db8:%x::%d", n, 1+rng.Intn(2)))
		addrs = append(addrs, fmt.Sprintf("2001:db8:%x:%x::1", n, 1+rng.Intn(3)))
	}
	m := &model{conns: map[*conn]*mState{}}
	inner := map[*conn]*mConn{}
	var order []*conn // live, for random choice
	live := func() map[*conn]bool {
		r := map[*conn]bool{}
		for _, c := range order {
			r[c] = true
		}
		return r
	}
	removeLive := func(c *conn) {
		delete(m.conns, c)
		for i, x := range order {
			if x == c {
				order = append(order[:i], order[i+1:]...)
				return
			}
		}
	}
	perClient := func(a netip.Addr) int {
		k := 0
		for c := range m.conns {
			if c.client == a {
				k++
			}
		}
		return k
	}
	for step := 0; step < 400; step++ {
		op := rng.Intn(10)
		if len(order) == 0 {
			op = 0
		}
		var desc string
		switch {
		case op <= 2: // accept
			addr := addrs[rng.Intn(len(addrs))]
			ic := &mConn{remote: &net.TCPAddr{IP: net.ParseIP(addr), Port: 1000 + step}}
			client := Client(ic.remote)
			full, clientFull := len(m.conns) >= total, perClient(client) >= perAddr
			var want *conn
			if full && !clientFull {
				want = m.victim()
			}
			in.next <- ic
			// Accept loops until one is accepted: feed a sentinel? Run it
			// in a goroutine only when acceptance is expected.
			expectAccepted := !clientFull && (!full || want != nil)
			if !expectAccepted {
				// Accept would refuse it and block on the next one: check
				// through a direct call of the same logic instead.
				<-in.next
				if full && !clientFull {
					l.makeRoom() // want == nil: must close nothing
				}
				if l.Acquire(client) {
					t.Fatalf("seed step %d: Acquire of %s succeeded, model says refused", step, addr)
				}
				desc = "refused " + addr
				break
			}
			got, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if want != nil {
				if !inner[want].isClosed() {
					t.Fatalf("step %d: model victim %s (mark %d) not closed", step, want.remote, m.conns[want].mark)
				}
				removeLive(want)
			}
			for c, ic2 := range inner {
				if ic2.isClosed() && m.conns[c] != nil {
					t.Fatalf("step %d: %s closed, model victim %v", step, c.remote, want)
				}
			}
			c := got.(*conn)
			inner[c] = ic
			m.conns[c] = &mState{}
			m.append(c)
			order = append(order, c)
			desc = "accept " + addr
		case op <= 4: // touch
			c := order[rng.Intn(len(order))]
			Touch(c.RemoteAddr())
			m.conns[c].vouchedBy = ""
			m.append(c)
			desc = "touch"
		case op <= 7: // vouch
			c := order[rng.Intn(len(order))]
			id := identities[rng.Intn(len(identities))]
			Vouch(c.RemoteAddr(), id)
			s := m.conns[c]
			if s.vouchedBy != id {
				s.vouchedBy = ""
				kept := 0
				for _, o := range m.conns {
					if o.vouchedBy == id {
						kept++
					}
				}
				if id != "" && (l.VouchedPerIdentity <= 0 || kept < l.VouchedPerIdentity) {
					s.vouchedBy, s.inSet = id, false
				} else if !s.inSet {
					m.append(c)
				}
			}
			desc = fmt.Sprintf("vouch %q", id)
		case op == 8: // close
			c := order[rng.Intn(len(order))]
			c.Close()
			removeLive(c)
			desc = "close"
		default: // drop, then a late touch and vouch on the closed conn
			c := order[rng.Intn(len(order))]
			Drop(c.RemoteAddr())
			Touch(c.RemoteAddr())
			Vouch(c.RemoteAddr(), "a")
			removeLive(c)
			desc = "drop+late touch"
		}
		_ = desc
		checkRoom(t, &l.unvouched, live())
		// The set holds exactly the model's.
		for c, s := range m.conns {
			if c.inSet != s.inSet || c.vouchedBy != s.vouchedBy {
				t.Fatalf("step %d (%s): %s inSet %v vouched by %q, model %v %q", step, desc, c.remote, c.inSet, c.vouchedBy, s.inSet, s.vouchedBy)
			}
		}
		if got, want := l.unvouched.peekVictimForTest(), m.victim(); got != want {
			t.Fatalf("step %d (%s): victim %v, model %v", step, desc, got, want)
		}
		if o, _ := l.Open(netip.Addr{}); o != len(m.conns) {
			t.Fatalf("step %d: open %d, model %d", step, o, len(m.conns))
		}
	}
}

func (u *unvouched) peekVictimForTest() *conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.byCount) == 0 {
		return nil
	}
	return u.byCount[0].first
}

// TestRoomConcurrent: Touch, Vouch, Close and Drop race Accept (with room
// being made); afterwards the set is consistent and holds no closed conn.
func TestRoomConcurrent(t *testing.T) {
	in := &mListener{next: make(chan net.Conn)}
	l := Limit(in, "race", 32, 8, slog.New(slog.DiscardHandler))
	l.VouchedPerIdentity = 4
	var mu sync.Mutex
	var held []*conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 4000; i++ {
			in.next <- &mConn{remote: &net.TCPAddr{IP: net.IPv4(10, byte(i%3), byte(i%7), byte(1+i%5)), Port: i}}
		}
	}()
	go func() {
		for {
			c, _ := l.Accept()
			mu.Lock()
			held = append(held, c.(*conn))
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				if len(held) == 0 {
					mu.Unlock()
					continue
				}
				c := held[rng.Intn(len(held))]
				mu.Unlock()
				switch rng.Intn(6) {
				case 0, 1:
					Touch(c.RemoteAddr())
				case 2, 3:
					Vouch(c.RemoteAddr(), []string{"", "a", "b"}[rng.Intn(3)])
				case 4:
					if rng.Intn(20) == 0 {
						c.Close()
					}
				default:
					if rng.Intn(20) == 0 {
						Drop(c.RemoteAddr())
					}
				}
			}
		}(w)
	}
	<-done
	wg.Wait()
	// The last connection accepted may not be in held yet: wait for it.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		live := 0
		for _, c := range held {
			if !c.Conn.(*mConn).isClosed() {
				live++
			}
		}
		mu.Unlock()
		if o, _ := l.Open(netip.Addr{}); o == live {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	live := map[*conn]bool{}
	open := 0
	for _, c := range held {
		closed := c.Conn.(*mConn).isClosed()
		if !closed {
			live[c] = true
			open++
		}
		if closed && c.inSet {
			t.Errorf("closed connection %s still in the set", c.remote)
		}
		if !closed && !c.vouched.Load() && !c.inSet {
			t.Errorf("open unvouched connection %s not in the set", c.remote)
		}
		if !closed && c.vouched.Load() && c.inSet {
			t.Errorf("open vouched connection %s in the set", c.remote)
		}
	}
	checkRoom(t, &l.unvouched, live)
	if o, _ := l.Open(netip.Addr{}); o != open {
		t.Errorf("open %d, live %d", o, open)
	}
}

// TestReviewFewNetworksSufficeWhenMostAreVouched: the networks a flood
// needs to close a new caller before its first call is the number of
// unvouched slots, not the listener's size. Listener of 10: 7 vouched
// (token holders), a flood from 2 /24s, one connection each, reconnecting.
