package netlimit_test

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/provex/provex/internal/netlimit"
)

// writingConn takes every write whole.
type writingConn struct{ fakeConn }

func (c *writingConn) Write(p []byte) (int, error) { return len(p), nil }

// frame is an HTTP/2 frame of type typ with a payload of n bytes.
func frame(typ byte, n int) []byte {
	return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, 0, 0, 0, 0, 1}, make([]byte, n)...)
}

// unsentListener is a listener whose unsent answers are bounded at 100
// bytes a connection, 150 a client and 250 in all, and what accepts a
// connection from an address on it.
func unsentListener(t *testing.T) (*netlimit.Listener, func(from string) net.Conn) {
	in := &fakeListener{next: make(chan net.Conn, 64)}
	l := netlimit.Limit(in, "gRPC", 0, 0, nil)
	l.Unsent = netlimit.NewUnsent(100, 150, 250)
	return l, func(from string) net.Conn {
		in.next <- &writingConn{fakeConn{remote: reusedAddr(from)}}
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// TestUnsentBoundsAnswersLeftUnread: the bytes queued for a connection and
// not written to it are bounded per connection, per client and in total;
// a refused answer counts nothing; the payload of DATA frames written gives
// the budget back, other frames nothing, wherever writes split them (and
// payload written beyond what was queued is not carried over to later
// answers); a closed connection gives back what it held.
func TestUnsentBoundsAnswersLeftUnread(t *testing.T) {
	l, accept := unsentListener(t)
	held := func(addr string) (int64, int64) { return l.Unsent.Held(netip.MustParseAddr(addr)) }
	a := accept("127.0.0.1:1000")
	if !netlimit.Queue(a.RemoteAddr(), 60) || !netlimit.Queue(a.RemoteAddr(), 40) {
		t.Fatal("100 bytes refused on a connection bounded at 100")
	}
	if netlimit.Queue(a.RemoteAddr(), 1) {
		t.Error("a byte past the connection's bound was queued")
	}
	aw := netlimit.CountFrames(a)
	// A SETTINGS ACK, a HEADERS frame of 50 bytes, a DATA frame of 30,
	// written in pieces that split headers and payloads.
	frames := append(append(frame(0x4, 0), frame(0x1, 50)...), frame(0x0, 30)...)
	for _, cut := range [][2]int{{0, 5}, {5, 20}, {20, 70}, {70, len(frames)}} {
		aw.Write(frames[cut[0]:cut[1]])
	}
	if !netlimit.Queue(a.RemoteAddr(), 30) || netlimit.Queue(a.RemoteAddr(), 1) {
		t.Error("the 30 bytes of DATA written were not given back, exactly")
	}
	// A second connection of the same client: the client's bound (150).
	b := accept("127.0.0.1:1001")
	if !netlimit.Queue(b.RemoteAddr(), 50) || netlimit.Queue(b.RemoteAddr(), 1) {
		t.Error("the client's bound of 150 over its two connections not kept")
	}
	if total, client := held("127.0.0.1"); total != 150 || client != 150 {
		t.Errorf("held %d in total, %d by the client; want 150 and 150", total, client)
	}
	// Other clients: the total bound (250).
	c := accept("127.0.0.2:1000")
	if !netlimit.Queue(c.RemoteAddr(), 100) || netlimit.Queue(accept("127.0.0.3:1000").RemoteAddr(), 1) {
		t.Error("the total bound of 250 not kept")
	}
	// Everything written: the budget is whole again, and framing written
	// beyond the answers leaves no credit for later ones.
	aw.Write(frame(0x0, 1000))
	if total, client := held("127.0.0.1"); total != 150 || client != 50 {
		t.Errorf("after a's answers were written: held %d in total, %d by the client; want 150 and 50", total, client)
	}
	if !netlimit.Queue(a.RemoteAddr(), 100) || netlimit.Queue(a.RemoteAddr(), 1) {
		t.Error("bytes written beyond the queued ones were credited to later answers")
	}
	// Closing gives back what a connection held.
	a.Close()
	b.Close()
	if total, client := held("127.0.0.1"); total != 100 || client != 0 {
		t.Errorf("after the client's connections closed: held %d in total, %d by the client; want 100 and 0", total, client)
	}
	if !netlimit.Queue(a.RemoteAddr(), 1000) {
		t.Error("an answer for a closed connection was refused (nothing will hold it)")
	}
	// A connection of a listener without bounds, or an address no
	// listener gave, is never refused.
	if !netlimit.Queue(reusedAddr("127.0.0.1:5"), 1<<40) {
		t.Error("an address no Listener gave was refused")
	}
}

// TestFullUnsentMakesRoomForAnotherNetwork: an answer past the listener's
// bound alone, for a client of a network holding less than another, resets
// the connection holding the most of the network holding the most, and is
// queued; a network is kept to its share, and the heaviest makes no room
// from itself.
func TestFullUnsentMakesRoomForAnotherNetwork(t *testing.T) {
	in := &fakeListener{next: make(chan net.Conn, 8)}
	l := netlimit.Limit(in, "gRPC", 0, 0, nil)
	l.Unsent = netlimit.NewUnsent(100, 150, 250)
	accept := func(from string) (*writingConn, net.Conn) {
		raw := &writingConn{fakeConn{remote: reusedAddr(from)}}
		in.next <- raw
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return raw, c
	}
	held := func(addr string) (int64, int64) { return l.Unsent.Held(netip.MustParseAddr(addr)) }
	queue := func(c net.Conn, n int) bool { return netlimit.Queue(c.RemoteAddr(), n) }

	// 10.0.0.0/24 fills the listener: 100 and 50 from 10.0.0.1, 100 from
	// 10.0.0.2.
	a1Raw, a1 := accept("10.0.0.1:1000")
	a2Raw, a2 := accept("10.0.0.1:1001")
	a3Raw, a3 := accept("10.0.0.2:1000")
	if !queue(a1, 100) || !queue(a2, 50) || !queue(a3, 80) || !queue(a3, 20) {
		t.Fatal("the flood's answers within the bounds were refused")
	}
	// Another network's answer: a1 (100, the first of the two holding the
	// most; a3 as much) or a3 is reset, the answer queued.
	_, b1 := accept("10.0.1.1:1000")
	if !queue(b1, 30) {
		t.Fatal("another network's answer at a full listener was refused")
	}
	if a2Raw.closed || a1Raw.closed == a3Raw.closed {
		t.Fatalf("reset to make room: a1 %v, a2 %v, a3 %v; want one of a1 and a3 (100 each)", a1Raw.closed, a2Raw.closed, a3Raw.closed)
	}
	if total, client := held("10.0.1.1"); total != 180 || client != 30 {
		t.Fatalf("after making room: held %d in total, %d by 10.0.1.1; want 180 and 30", total, client)
	}
	// Up to its share: 10.0.1.1 fills the listener with 70 more; 50 more
	// would leave its network more than the other's 150, and are refused.
	_, b2 := accept("10.0.1.1:1001")
	_, b3 := accept("10.0.1.1:1002")
	if !queue(b2, 70) || queue(b3, 50) {
		t.Fatal("a network's share of a full listener not kept")
	}
	if a2Raw.closed || a1Raw.closed && a3Raw.closed {
		t.Fatal("a network at its share reset another's connection")
	}
	// The flood's own network makes no room from itself.
	_, a4 := accept("10.0.0.3:1000")
	if queue(a4, 1) {
		t.Fatal("the heaviest network's answer past the listener's bound was queued")
	}
	if total, _ := held("10.0.0.1"); total != 250 {
		t.Fatalf("held %d in total; want the listener's 250", total)
	}
}

// TestUnsentRoomKeepsTheTotal: the connection reset to make room for an
// answer must hold at least what the answer passes the listener's total
// by; resetting the heaviest network's biggest connection whatever it held
// let fresh networks' answers take the total to 700 bytes of 250 (a
// review).
func TestUnsentRoomKeepsTheTotal(t *testing.T) {
	l, accept := unsentListener(t)
	// 10.0.0.1 leaves 10 bytes unread on each of 15 connections, 10.0.1.1
	// 100 on one: 250.
	for i := range 15 {
		if !netlimit.Queue(accept(fmt.Sprintf("10.0.0.1:%d", 1000+i)).RemoteAddr(), 10) {
			t.Fatal("an answer within the bounds was refused")
		}
	}
	if !netlimit.Queue(accept("10.0.1.1:1000").RemoteAddr(), 100) {
		t.Fatal("an answer within the bounds was refused")
	}
	// A fresh network's answer of 50: 10.0.1.1's connection of 100 is
	// reset for it (10.0.0.1's hold 10 each, too little).
	if !netlimit.Queue(accept("10.0.2.1:1000").RemoteAddr(), 50) {
		t.Fatal("a fresh network's answer was refused: 10.0.1.1's connection of 100 could make room")
	}
	if total, _ := l.Unsent.Held(netip.MustParseAddr("10.0.0.1")); total != 200 {
		t.Fatalf("after making room: %d unsent bytes held; want 200", total)
	}
	// Fresh networks' answers of 100 each: none holds 50 to free but
	// the one above, whose network would then hold less than theirs.
	for n := 3; n < 10; n++ {
		netlimit.Queue(accept(fmt.Sprintf("10.0.%d.1:1000", n)).RemoteAddr(), 100)
		if total, _ := l.Unsent.Held(netip.MustParseAddr("10.0.0.1")); total > 250 {
			t.Fatalf("after network 10.0.%d.0/24's answer: %d unsent bytes held, over the listener's 250", n, total)
		}
	}
}

// TestHoldBoundsAnswersBeingWritten: the bytes an HTTP server holds for
// answers it is writing are bounded per client (an IPv6 /64 is one) and
// in total; a refused hold counts nothing, and what is given back may be
// held again.
func TestHoldBoundsAnswersBeingWritten(t *testing.T) {
	u := netlimit.NewUnsent(100, 150, 250)
	a, a64 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	if !u.Hold(a, 100) || !u.Hold(a64, 50) {
		t.Fatal("150 bytes of a client bounded at 150 refused")
	}
	if u.Hold(a64, 1) {
		t.Error("a byte past the client's bound was held, from another address of its /64")
	}
	if !u.Hold(netip.MustParseAddr("192.0.2.1"), 100) || u.Hold(netip.MustParseAddr("192.0.2.2"), 1) {
		t.Error("the total bound of 250 not kept")
	}
	if total, client := u.Held(a); total != 250 || client != 150 {
		t.Errorf("held %d in total, %d by the client; want 250 and 150", total, client)
	}
	u.GiveBack(a, 100)
	if !u.Hold(a64, 100) || u.Hold(a, 1) {
		t.Error("the 100 bytes given back could not be held again, exactly")
	}
	u.GiveBack(a, 150)
	if total, client := u.Held(a); total != 100 || client != 0 {
		t.Errorf("after the client gave back all: held %d in total, %d by the client; want 100 and 0", total, client)
	}
}
