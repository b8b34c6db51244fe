package netlimit_test

import (
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

// TestUnsentBoundsAnswersLeftUnread: the bytes queued for a connection and
// not written to it are bounded per connection, per client and in total;
// a refused answer counts nothing; the payload of DATA frames written gives
// the budget back, other frames nothing, wherever writes split them (and
// payload written beyond what was queued is not carried over to later
// answers); a closed connection gives back what it held.
func TestUnsentBoundsAnswersLeftUnread(t *testing.T) {
	in := &fakeListener{next: make(chan net.Conn, 8)}
	l := netlimit.Limit(in, "gRPC", 0, 0, nil)
	l.Unsent = netlimit.NewUnsent(100, 150, 250)
	accept := func(from string) net.Conn {
		in.next <- &writingConn{fakeConn{remote: reusedAddr(from)}}
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
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
