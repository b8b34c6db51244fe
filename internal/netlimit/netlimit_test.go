package netlimit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provex/provex/internal/netlimit"
	"github.com/provex/provex/internal/testlog"
)

// serve accepts on l and keeps each connection open until the client
// closes it, as a server with idle keep-alive connections would.
func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() { io.Copy(io.Discard, c); c.Close() }()
	}
}

// dialFrom connects to addr from the loopback address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether a connection from from to addr is closed by the
// server at once (it may be reset before the dial returns).
func refused(t *testing.T, from, addr string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return true
	}
	defer c.Close()
	return closedByServer(c, 5*time.Second)
}

// closedByServer reports whether the server closed c within the deadline.
func closedByServer(c net.Conn, within time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(within))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// waitOpen waits until l holds total connections, from holding from addr.
func waitOpen(t *testing.T, l *netlimit.Listener, addr string, total, from int) {
	t.Helper()
	a := netip.MustParseAddr(addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		gotTotal, gotFrom := l.Open(a)
		if gotTotal == total && gotFrom == from {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("open connections: %d in total and %d from %s, want %d and %d", gotTotal, gotFrom, addr, total, from)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCapsPerAddressAndTotal(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l := netlimit.Limit(inner, "test", 5, 3, slog.New(slog.NewTextHandler(&logs, nil)))
	defer l.Close()
	go serve(l)
	addr := inner.Addr().String()

	var held []net.Conn
	for range 3 {
		held = append(held, dialFrom(t, "127.0.0.1", addr))
	}
	waitOpen(t, l, "127.0.0.1", 3, 3)
	// The fourth from the same address is closed at once; others still get in.
	for range 10 {
		if !refused(t, "127.0.0.1", addr) {
			t.Fatal("a connection over the per-address cap stayed open")
		}
	}
	dialFrom(t, "127.0.0.2", addr)
	dialFrom(t, "127.0.0.3", addr)
	waitOpen(t, l, "127.0.0.1", 5, 3)
	// Over the total cap, a client within its own cap takes the place of
	// the connection that has begun no call for longest: the first one.
	newcomer := dialFrom(t, "127.0.0.4", addr)
	if !closedByServer(held[0], 5*time.Second) {
		t.Fatal("over the total cap, the idlest connection was not closed to make room")
	}
	waitOpen(t, l, "127.0.0.1", 5, 2)
	if closedByServer(newcomer, 200*time.Millisecond) {
		t.Fatal("the connection that the idlest one made room for was closed")
	}
	// A closed connection frees its slot.
	held[1].Close()
	waitOpen(t, l, "127.0.0.1", 4, 1)
	again := dialFrom(t, "127.0.0.1", addr)
	waitOpen(t, l, "127.0.0.1", 5, 2)
	if closedByServer(again, 200*time.Millisecond) {
		t.Fatal("a connection within the caps was closed")
	}
	// Eleven refusals, one log line.
	if n := strings.Count(logs.String(), "refused connections over the cap"); n != 1 {
		t.Errorf("%d log lines about refusals, want 1 (at most one per %v):\n%s", n, netlimit.LogEvery, logs.String())
	}
}

// pipeListener hands out one end of a net.Pipe per Dial, with the remote
// address the caller names, so clients at any IPv6 address can be tried.
type pipeListener struct{ conns chan net.Conn }

type fromConn struct {
	net.Conn
	from net.Addr
}

func (c fromConn) RemoteAddr() net.Addr { return c.from }

func (p pipeListener) Accept() (net.Conn, error) {
	c, ok := <-p.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (p pipeListener) Close() error   { return nil }
func (p pipeListener) Addr() net.Addr { return &net.TCPAddr{} }

// acceptFrom has l accept a connection from addr and reports whether it
// was kept (a refused one is closed before Accept returns, so the next one
// is accepted instead).
func acceptFrom(t *testing.T, l *netlimit.Listener, p pipeListener, addr string) bool {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	// A marker connection follows: if Accept returns it, the first was refused.
	marker, markerClient := net.Pipe()
	defer markerClient.Close()
	go func() {
		p.conns <- fromConn{Conn: server, from: net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 4000))}
		p.conns <- fromConn{Conn: marker, from: &net.TCPAddr{IP: net.ParseIP("192.0.2.250"), Port: 1}}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() == "192.0.2.250:1" {
		c.Close()
		return false
	}
	t.Cleanup(func() { c.Close() })
	// Take the marker off the queue again.
	m, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	return true
}

func TestIPv6CountedPer64(t *testing.T) {
	p := pipeListener{conns: make(chan net.Conn)}
	l := netlimit.Limit(p, "test", 0, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Two addresses of one /64 share its two slots.
	for _, a := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"} {
		if !acceptFrom(t, l, p, a) {
			t.Fatalf("connection from %s refused within the cap", a)
		}
	}
	if acceptFrom(t, l, p, "2001:db8:1:2:abcd::9") {
		t.Fatal("a third connection from one /64 (another address in it) was kept; the cap is per /64")
	}
	if _, n := l.Open(netip.MustParseAddr("2001:db8:1:2::77")); n != 2 {
		t.Errorf("open from the /64: %d, want 2", n)
	}
	// The neighbouring /64 has its own count.
	if !acceptFrom(t, l, p, "2001:db8:1:3::1") {
		t.Fatal("a connection from another /64 was refused")
	}
	// An IPv4-mapped address is the IPv4 address.
	for _, a := range []string{"192.0.2.7", "::ffff:192.0.2.7"} {
		if !acceptFrom(t, l, p, a) {
			t.Fatalf("connection from %s refused within the cap", a)
		}
	}
	if acceptFrom(t, l, p, "::ffff:192.0.2.7") || acceptFrom(t, l, p, "192.0.2.7") {
		t.Fatal("IPv4 and IPv4-mapped IPv6 forms of one address were counted apart")
	}
	// IPv4 addresses are not grouped: the next address has its own count.
	if !acceptFrom(t, l, p, "192.0.2.8") {
		t.Fatal("a connection from the next IPv4 address was refused")
	}
}

func TestClient(t *testing.T) {
	for _, tc := range []struct{ from, want string }{
		{"[2001:db8:a:b:1:2:3:4]:443", "2001:db8:a:b::"},
		{"[2001:db8:a:b::]:1", "2001:db8:a:b::"},
		{"[fe80::1%eth0]:1", "fe80::"},
		{"[::ffff:10.1.2.3]:1", "10.1.2.3"},
		{"10.1.2.3:1", "10.1.2.3"},
		{"[::1]:1", "::"},
	} {
		ap := netip.MustParseAddrPort(tc.from)
		if got := netlimit.Client(net.TCPAddrFromAddrPort(ap)); got != netip.MustParseAddr(tc.want) {
			t.Errorf("Client(%s) = %s, want %s", tc.from, got, tc.want)
		}
	}
	if got := netlimit.Client(&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}); got.IsValid() {
		t.Errorf("Client(unix socket) = %s, want the zero address", got)
	}
}

// reusedAddr is a client address and port two connections have in turn.
type reusedAddr string

func (a reusedAddr) Network() string { return "tcp" }
func (a reusedAddr) String() string  { return string(a) }

type fakeConn struct {
	net.Conn
	remote net.Addr
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

type fakeListener struct {
	net.Listener
	next chan net.Conn
}

func (l *fakeListener) Accept() (net.Conn, error) { return <-l.next, nil }

// TestDropClosesTheConnectionOfItsAddress: Drop, given the RemoteAddr of
// a connection a Listener accepted, closes that one, even when another
// connection came from the same address and port (a client reconnecting
// from the port it just reset): an address string named the other one, or
// none once either closed, and a client escaped the calls caps that way.
// An address no Listener gave is not dropped.
func TestDropClosesTheConnectionOfItsAddress(t *testing.T) {
	in := &fakeListener{next: make(chan net.Conn, 4)}
	l := netlimit.Limit(in, "gRPC", 0, 0, nil)
	addr := reusedAddr("127.0.0.9:41000")
	a, b := &fakeConn{remote: addr}, &fakeConn{remote: addr}
	in.next <- a
	in.next <- b
	heldA, _ := l.Accept()
	heldB, _ := l.Accept()
	if heldA.RemoteAddr().String() != "127.0.0.9:41000" {
		t.Errorf("RemoteAddr %q, want the client's address", heldA.RemoteAddr())
	}
	if !netlimit.Drop(heldA.RemoteAddr()) || !a.closed || b.closed {
		t.Errorf("Drop of A's address: A closed %v, B closed %v; want A alone", a.closed, b.closed)
	}
	if !netlimit.Drop(heldB.RemoteAddr()) || !b.closed {
		t.Errorf("Drop of B's address after A closed: B closed %v", b.closed)
	}
	if netlimit.Drop(addr) {
		t.Error("Drop of an address no Listener gave reported a connection")
	}
}

// closingConn is a connection whose Close can be waited for.
type closingConn struct {
	net.Conn
	remote net.Addr
	closed chan struct{}
}

func newClosingConn(addr string) *closingConn {
	return &closingConn{remote: &net.TCPAddr{IP: net.ParseIP(addr), Port: 4000}, closed: make(chan struct{})}
}

func (c *closingConn) RemoteAddr() net.Addr { return c.remote }
func (c *closingConn) Close() error         { close(c.closed); return nil }

func (c *closingConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// acceptor hands c to l through in and returns the connection l accepts,
// failing t when l refuses it.
func acceptor(t *testing.T, l *netlimit.Listener, in *fakeListener) func(c *closingConn) net.Conn {
	return func(c *closingConn) net.Conn {
		t.Helper()
		in.next <- c
		accepted := make(chan net.Conn, 1)
		go func() {
			held, _ := l.Accept()
			accepted <- held
		}()
		var held net.Conn
		select {
		case held = <-accepted:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s was refused", c.remote)
		}
		if held.RemoteAddr().String() != c.remote.String() {
			t.Fatalf("accepted %s, want %s", held.RemoteAddr(), c.remote)
		}
		return held
	}
}

// TestFullListenerClosesTheIdlestWithoutCredentials: a full listener makes
// room for a new connection by closing, among the connections no caller
// has shown credentials on (Vouch), the one whose last call began longest
// ago (Touch) or that has begun none, longest ago; one that has shown them
// is never closed, and with none left to close a new connection is
// refused. Each comes from an address of its own: the flood this stops
// comes from many.
func TestFullListenerClosesTheIdlestWithoutCredentials(t *testing.T) {
	var logs testlog.Buffer
	in := &fakeListener{next: make(chan net.Conn, 1)}
	l := netlimit.Limit(in, "test", 3, 1, slog.New(slog.NewTextHandler(&logs, nil)))
	accept := acceptor(t, l, in)
	a, b, c := newClosingConn("192.0.2.1"), newClosingConn("192.0.2.2"), newClosingConn("192.0.2.3")
	heldA, heldB := accept(a), accept(b)
	accept(c)
	netlimit.Touch(heldA.RemoteAddr())           // a began a call: c, then a, to go first
	netlimit.Vouch(heldB.RemoteAddr(), "holder") // b showed credentials: never to go
	d := newClosingConn("192.0.2.4")
	heldD := accept(d)
	if !c.isClosed() || a.isClosed() || b.isClosed() {
		t.Fatalf("the fourth connection: closed a %v, b %v, c %v; want c alone (idle longest)", a.isClosed(), b.isClosed(), c.isClosed())
	}
	e := newClosingConn("192.0.2.5")
	heldE := accept(e)
	if !a.isClosed() || b.isClosed() || d.isClosed() {
		t.Fatalf("the fifth connection: closed a %v, b %v, d %v; want a (idle longer than d)", a.isClosed(), b.isClosed(), d.isClosed())
	}
	// All three held have shown credentials: a new one is refused.
	netlimit.Vouch(heldD.RemoteAddr(), "holder")
	netlimit.Vouch(heldE.RemoteAddr(), "holder")
	f := newClosingConn("192.0.2.6")
	accepted := make(chan net.Conn, 1)
	go func() {
		held, _ := l.Accept()
		accepted <- held
	}()
	in.next <- f
	select {
	case <-f.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a connection over the cap, with every held one vouched for, was not refused")
	}
	if b.isClosed() || d.isClosed() || e.isClosed() {
		t.Fatalf("a connection vouched for was closed to make room: b %v, d %v, e %v", b.isClosed(), d.isClosed(), e.isClosed())
	}
	// One closes; the next gets its place.
	heldB.Close()
	g := newClosingConn("192.0.2.7")
	in.next <- g
	heldG := <-accepted
	if heldG.RemoteAddr().String() != g.remote.String() || g.isClosed() {
		t.Fatalf("after a held connection closed, Accept gave %s (want %s, open)", heldG.RemoteAddr(), g.remote)
	}
	netlimit.Vouch(heldG.RemoteAddr(), "holder")
	if total, _ := l.Open(netip.MustParseAddr("192.0.2.7")); total != 3 {
		t.Errorf("%d connections counted open, want 3", total)
	}
	// A call on d without credentials (its token revoked): d may go again.
	netlimit.Vouch(heldD.RemoteAddr(), "")
	heldH := accept(newClosingConn("192.0.2.8"))
	if !d.isClosed() || e.isClosed() || g.isClosed() {
		t.Fatalf("after d's call without credentials: closed d %v, e %v, g %v; want d alone", d.isClosed(), e.isClosed(), g.isClosed())
	}
	// A call begins on e and never reaches the check of its credentials
	// (its message never comes): e may go too, once h is vouched for.
	netlimit.Vouch(heldH.RemoteAddr(), "holder")
	netlimit.Touch(heldE.RemoteAddr())
	accept(newClosingConn("192.0.2.9"))
	if !e.isClosed() || g.isClosed() {
		t.Fatalf("after a call began on e: closed e %v, g %v; want e", e.isClosed(), g.isClosed())
	}
	if !strings.Contains(logs.String(), "closed connections without credentials, or past their identity's share, to make room") {
		t.Errorf("closing connections to make room was not logged:\n%s", logs.String())
	}
}

// TestFullListenerClosesFromTheNetworkHoldingMost: the connection closed
// to make room comes from the network (an IPv4 /24, an IPv6 /48) holding
// the most connections without credentials, however recently they began
// a call, so a flood connecting fast from many addresses of its networks
// closes its own connections, not a new caller's before its first call.
func TestFullListenerClosesFromTheNetworkHoldingMost(t *testing.T) {
	in := &fakeListener{next: make(chan net.Conn, 1)}
	l := netlimit.Limit(in, "test", 5, 0, nil)
	accept := acceptor(t, l, in)
	caller := newClosingConn("203.0.113.9")
	accept(caller) // the oldest, and alone in its network
	v6a, v6b := newClosingConn("2001:db8:1:1::1"), newClosingConn("2001:db8:1:2::1")
	accept(v6a)
	accept(v6b) // another /64 of the same /48
	flood := []*closingConn{newClosingConn("198.51.100.1"), newClosingConn("198.51.100.2")}
	for _, c := range flood {
		accept(c)
	}
	// Full. The IPv6 /48 and the flood's /24 hold two each: either may
	// go, never the caller. Each newcomer from the flood's network adds
	// to it, so from then on it goes first.
	for i := range 4 {
		accept(newClosingConn(fmt.Sprintf("198.51.100.%d", 10+i)))
		if caller.isClosed() {
			t.Fatalf("newcomer %d closed the caller's connection, alone in its network", i)
		}
	}
	if !flood[0].isClosed() || !flood[1].isClosed() {
		t.Errorf("the flood's first connections: closed %v and %v, want both (oldest of the network holding most)", flood[0].isClosed(), flood[1].isClosed())
	}
	if v6a.isClosed() && v6b.isClosed() {
		t.Error("both IPv6 connections were closed: their /48 never held the most")
	}
	// The IPv6 /64s of one /48 count as one network: with the flood's
	// network down to as many, a newcomer from a third network closes one
	// of the flood's or the /48's, never the caller.
	accept(newClosingConn("192.0.2.1"))
	if caller.isClosed() {
		t.Fatal("a newcomer closed the caller's connection while other networks held more")
	}
}

// TestFullListenerClosesTheLongestWaitingOfNetworksHoldingAsMany: of
// networks holding as many connections, the one whose first connection has
// waited longest goes first, so a flood from many networks holding one
// connection each closes its own older ones before a caller's newer one
// (the newest network went first: a caller alone in its /24 was closed by
// the flood's second newcomer).
func TestFullListenerClosesTheLongestWaitingOfNetworksHoldingAsMany(t *testing.T) {
	in := &fakeListener{next: make(chan net.Conn, 1)}
	l := netlimit.Limit(in, "test", 5, 0, nil)
	accept := acceptor(t, l, in)
	var flood []*closingConn
	for i := range 4 {
		c := newClosingConn(fmt.Sprintf("198.51.%d.1", i))
		accept(c)
		flood = append(flood, c)
	}
	caller := newClosingConn("203.0.113.9")
	accept(caller)
	for i := range 4 {
		accept(newClosingConn(fmt.Sprintf("198.51.%d.1", 10+i)))
		if caller.isClosed() {
			t.Fatalf("flood newcomer %d closed the caller's connection while older ones of the flood were open", i)
		}
		if !flood[i].isClosed() {
			t.Fatalf("flood newcomer %d did not close the flood's connection %d, which had waited longest", i, i)
		}
	}
}

// TestRefusalsOfABurstAreAllLogged: a burst of refusals followed by quiet
// is logged as its first refusal at once, then the rest counted once the
// period has passed, not left unlogged until a refusal comes after it.
func TestRefusalsOfABurstAreAllLogged(t *testing.T) {
	var logs testlog.Buffer
	c := netlimit.NewCaps("test", "connections", 1, 1, slog.New(slog.NewTextHandler(&logs, nil)))
	netlimit.SetLogEvery(c, 100*time.Millisecond)
	client := netip.MustParseAddr("127.0.0.1")
	if !c.Acquire(client) {
		t.Fatal("the first connection was refused")
	}
	for range 11 {
		if c.Acquire(client) {
			t.Fatal("a connection over the cap was let in")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "refused=10") {
		if time.Now().After(deadline) {
			t.Fatalf("the burst's last 10 refusals were not logged:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "over the cap"); n != 2 || !strings.Contains(logs.String(), "refused=1 ") {
		t.Errorf("%d log lines, want 2 (refused=1, then refused=10):\n%s", n, logs.String())
	}
}

// BenchmarkCallMarks is what each call of a caller with credentials costs
// its connection's bookkeeping: Touch as it begins, Vouch once its token
// verifies. Parallel: 64 connections of 64 networks, calls on all at once.
func BenchmarkCallMarks(b *testing.B) {
	in := &fakeListener{next: make(chan net.Conn, 64)}
	l := netlimit.Limit(in, "bench", 0, 0, nil)
	var held []net.Addr
	for i := range 64 {
		in.next <- newClosingConn(fmt.Sprintf("10.%d.0.1", i))
		c, err := l.Accept()
		if err != nil {
			b.Fatal(err)
		}
		held = append(held, c.RemoteAddr())
	}
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		remote := held[int(next.Add(1))%len(held)]
		for pb.Next() {
			netlimit.Touch(remote)
			netlimit.Vouch(remote, "holder")
		}
	})
}

// TestVouchedConnectionsPerIdentityAreBounded: one identity's credentials
// keep at most VouchedPerIdentity connections of a listener from being
// closed to make room; its others are closed, as those without
// credentials are, when a full listener makes room for another identity's
// new connection, and an identity within the bound keeps all of its own.
// Before, one member's certificate, shown by a call now and then on each
// of 4096 connections from 17 addresses, held every place of a node's
// peer endpoint, and another member's node could not connect (an outside
// review).
func TestVouchedConnectionsPerIdentityAreBounded(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := netlimit.Limit(inner, "test", 8, 0, slog.New(slog.DiscardHandler))
	l.VouchedPerIdentity = 3
	defer l.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	addr := inner.Addr().String()
	// call begins a call on the connection whose RemoteAddr is remote,
	// with identity's credentials, as the server's tap and guard record
	// it.
	call := func(remote net.Addr, identity string) {
		netlimit.Touch(remote)
		netlimit.Vouch(remote, identity)
	}
	// connect dials from from and makes a call on the connection; it
	// returns the client's end and the listener's RemoteAddr of it.
	connect := func(from, identity string) (net.Conn, net.Addr) {
		t.Helper()
		c := dialFrom(t, from, addr)
		select {
		case held := <-accepted:
			t.Cleanup(func() { held.Close() })
			call(held.RemoteAddr(), identity)
			return c, held.RemoteAddr()
		case <-time.After(10 * time.Second):
			t.Fatalf("the connection from %s was not accepted", from)
			return nil, nil
		}
	}
	// The flood: one member's connections from addresses of one /24.
	var flood []net.Conn
	var flooding []net.Addr
	for i := range 6 {
		c, remote := connect(fmt.Sprintf("127.0.1.%d", 1+i), "peer:cao-bang")
		flood, flooding = append(flood, c), append(flooding, remote)
	}
	var member []net.Conn
	for i := range 2 {
		c, _ := connect(fmt.Sprintf("127.0.2.%d", 1+i), "peer:nghe-an")
		member = append(member, c)
	}
	waitOpen(t, l, "127.0.0.1", 8, 0)
	// Full. The flood's three past the bound go first, oldest first, for
	// the other member's new connection and two of a token's.
	for i, c := range []struct{ from, identity string }{{"127.0.3.1", "peer:nghe-an"}, {"127.0.4.1", "token:a"}, {"127.0.4.2", "token:a"}} {
		held, _ := connect(c.from, c.identity)
		member = append(member, held)
		if !closedByServer(flood[3+i], 5*time.Second) {
			t.Fatalf("newcomer %d (%s): the flood's connection %d, past its identity's bound, was not closed to make room", i, c.identity, 3+i)
		}
		waitOpen(t, l, "127.0.0.1", 8, 0)
	}
	// Every place is kept now, the flood's first three too, and so they
	// stay across the flood's next calls: a newcomer is refused.
	for _, remote := range flooding[:3] {
		call(remote, "peer:cao-bang")
	}
	if !refused(t, "127.0.5.1", addr) {
		t.Fatal("a newcomer got a place held by a connection within its identity's bound")
	}
	waitOpen(t, l, "127.0.0.1", 8, 0)
	for i, c := range append(flood[:3], member...) {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d, within its identity's bound, was closed: %v", i, err)
		}
	}
}
