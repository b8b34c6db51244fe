package netlimit_test

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/provex/provex/internal/netlimit"
)

// framingConn is a connection whose reads return the pieces in reads, one
// a read, and whose writes are taken whole.
type framingConn struct {
	fakeConn
	reads [][]byte
}

func (c *framingConn) Read(p []byte) (int, error) {
	if len(c.reads) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.reads[0])
	if c.reads[0] = c.reads[0][n:]; len(c.reads[0]) == 0 {
		c.reads = c.reads[1:]
	}
	return n, nil
}

func (c *framingConn) Write(p []byte) (int, error) { return len(p), nil }

// streamFrame is an HTTP/2 frame of type typ with flags on stream id,
// with a payload of n bytes.
func streamFrame(typ, flags byte, id uint32, n int) []byte {
	return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}, make([]byte, n)...)
}

const (
	dataFrame, headersFrame, priorityFrame, rstFrame, settingsFrame, continuationFrame = 0x0, 0x1, 0x2, 0x3, 0x4, 0x9
	endStream, endHeaders, padded, priority                                            = 0x1, 0x4, 0x8, 0x20
)

// cut is p in pieces of at most n bytes.
func cut(p []byte, n int) [][]byte {
	var pieces [][]byte
	for len(p) > n {
		pieces, p = append(pieces, p[:n]), p[n:]
	}
	return append(pieces, p)
}

// TestStreamsCountedFromFrames: the streams a client opens on a
// connection are counted from the frames read (after the client's
// preface), and end with the frames written that end them, wherever reads
// and writes cut the frames: a HEADERS frame for a new stream id opens
// one, whatever its padding, priority and CONTINUATION frames; a PRIORITY
// frame, a stream's second HEADERS frame (its trailers) or one for a lower
// id opens none; a HEADERS or DATA frame written with END_STREAM, or a
// RST_STREAM either way, ends it, and a RST_STREAM of a stream ended or
// never opened gives back nothing. A stream past the client's cap (its
// connections together) or the listener's resets the connection that
// opens it, which gives back its streams, as closing does.
func TestStreamsCountedFromFrames(t *testing.T) {
	in := &fakeListener{next: make(chan net.Conn, 8)}
	l := netlimit.Limit(in, "gRPC", 0, 0, nil)
	l.Streams = netlimit.NewCaps("gRPC", "streams", 6, 4, nil)
	accept := func(from string, reads ...[]byte) (*framingConn, net.Conn) {
		c := &framingConn{fakeConn: fakeConn{remote: reusedAddr(from)}, reads: reads}
		in.next <- c
		held, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c, netlimit.CountFrames(held)
	}
	readAll := func(c net.Conn) error {
		buf := make([]byte, 7) // shorter than a frame's header
		for {
			if _, err := c.Read(buf); err != nil {
				return err
			}
		}
	}
	open := func(addr string) (int, int) { return l.Streams.Open(netip.MustParseAddr(addr)) }

	var client bytes.Buffer
	client.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	client.Write(streamFrame(settingsFrame, 0, 0, 12))
	client.Write(streamFrame(headersFrame, endHeaders|padded|priority, 1, 40)) // opens 1
	client.Write(streamFrame(priorityFrame, 0, 3, 5))                          // opens nothing
	client.Write(streamFrame(headersFrame, 0, 5, 20))                          // opens 5...
	client.Write(streamFrame(continuationFrame, endHeaders, 5, 300))           // ...whose block goes on
	client.Write(streamFrame(dataFrame, endStream, 5, 5))
	client.Write(streamFrame(headersFrame, endHeaders|endStream, 5, 10)) // 5's trailers: opens nothing
	client.Write(streamFrame(headersFrame, endHeaders, 7, 10))           // opens 7
	client.Write(streamFrame(rstFrame, 0, 7, 4))                         // ends 7
	client.Write(streamFrame(rstFrame, 0, 7, 4))                         // again: nothing
	client.Write(streamFrame(rstFrame, 0, 99, 4))                        // never opened: nothing
	client.Write(streamFrame(headersFrame, endHeaders, 3, 10))           // below 7: opens nothing
	_, a := accept("127.0.0.1:1000", cut(client.Bytes(), 5)...)
	if err := readAll(a); err != io.EOF {
		t.Fatalf("reading a's frames: %v", err)
	}
	if all, held := open("127.0.0.1"); all != 2 || held != 2 {
		t.Fatalf("streams 1 and 5 open: counted %d in total, %d for the client; want 2 and 2", all, held)
	}

	// The server answers 5 (headers, DATA, trailers), and ends 1 with a
	// trailers-only answer it writes in pieces; a RST_STREAM it writes of
	// an ended stream gives back nothing.
	var server bytes.Buffer
	server.Write(streamFrame(settingsFrame, 0, 0, 0))
	server.Write(streamFrame(headersFrame, endHeaders, 5, 30))
	server.Write(streamFrame(dataFrame, 0, 5, 7))
	server.Write(streamFrame(headersFrame, endHeaders|endStream, 5, 12))
	server.Write(streamFrame(rstFrame, 0, 5, 4))
	server.Write(streamFrame(headersFrame, 0, 1, 12))
	server.Write(streamFrame(continuationFrame, endHeaders, 1, 12))
	for _, piece := range cut(server.Bytes(), 4) {
		a.Write(piece)
	}
	if all, held := open("127.0.0.1"); all != 1 || held != 1 {
		t.Fatalf("stream 5 answered, 1 not yet: counted %d in total, %d for the client; want 1 and 1", all, held)
	}
	a.Write(streamFrame(dataFrame, endStream, 1, 0))
	if all, _ := open("127.0.0.1"); all != 0 {
		t.Fatalf("every stream ended: %d still counted", all)
	}

	// The client's cap (4) over its connections: b opens 3, c 1, and c's
	// second resets c, whose stream is given back; b's stay.
	opens := func(ids ...uint32) [][]byte {
		p := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		for _, id := range ids {
			p = append(p, streamFrame(headersFrame, endHeaders|endStream, id, 10)...)
		}
		return [][]byte{p}
	}
	_, b := accept("127.0.0.1:1001", opens(1, 3, 5)...)
	readAll(b)
	cRaw, c := accept("127.0.0.1:1002", opens(1, 3)...)
	if err := readAll(c); err == io.EOF || !cRaw.closed {
		t.Fatalf("a stream past the client's cap: read %v, closed %v; want the connection reset", err, cRaw.closed)
	}
	if all, held := open("127.0.0.1"); all != 3 || held != 3 {
		t.Fatalf("after the connection past the cap was reset: counted %d in total, %d for the client; want 3 and 3", all, held)
	}
	// The listener's (6): another client's 4th stream passes it.
	dRaw, d := accept("127.0.0.2:1000", opens(1, 3, 5, 7)...)
	if err := readAll(d); err == io.EOF || !dRaw.closed {
		t.Fatalf("a stream past the listener's cap: read %v, closed %v; want the connection reset", err, dRaw.closed)
	}
	if all, held := open("127.0.0.2"); all != 3 || held != 0 {
		t.Fatalf("after the connection past the listener's cap was reset: counted %d in total, %d for its client; want 3 and 0", all, held)
	}
	// Closing gives back a connection's streams, once; frames scanned
	// after count nothing.
	b.Close()
	b.Close()
	b.Write(streamFrame(rstFrame, 0, 1, 4))
	if all, _ := open("127.0.0.1"); all != 0 {
		t.Fatalf("after every connection closed: %d still counted", all)
	}
}

// streamsListener is a listener whose streams are capped at total and
// perClient, and what accepts a connection from an address on it whose
// last call showed identity's credentials (none: ""), reads the HEADERS
// frames of streams ids from it, and returns it with the error its reads
// ended with (io.EOF: all read, the connection kept).
func streamsListener(t *testing.T, total, perClient int) (*netlimit.Listener, func(from, identity string, ids ...uint32) (*framingConn, error)) {
	in := &fakeListener{next: make(chan net.Conn, 8)}
	l := netlimit.Limit(in, "gRPC", 0, 0, nil)
	l.VouchedPerIdentity = 64
	l.Streams = netlimit.NewCaps("gRPC", "streams", total, perClient, nil)
	return l, func(from, identity string, ids ...uint32) (*framingConn, error) {
		p := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		for _, id := range ids {
			p = append(p, streamFrame(headersFrame, endHeaders|endStream, id, 10)...)
		}
		raw := &framingConn{fakeConn: fakeConn{remote: reusedAddr(from)}, reads: [][]byte{p}}
		in.next <- raw
		held, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if identity != "" {
			netlimit.Touch(held.RemoteAddr())
			netlimit.Vouch(held.RemoteAddr(), identity)
		}
		c := netlimit.CountFrames(held)
		for {
			if _, err := c.Read(make([]byte, 64)); err != nil {
				return raw, err
			}
		}
	}
}

// TestFullListenerMakesRoomForAnotherNetworksStreams: a stream past the
// listener's cap, from a client within its own, resets the connection
// holding the most streams of the network holding the most, when that
// network holds more than the client's would with it; a network is not
// shut out by another's flood, and is kept to its share.
func TestFullListenerMakesRoomForAnotherNetworksStreams(t *testing.T) {
	l, openStreams := streamsListener(t, 6, 4)
	accept := func(from string, ids ...uint32) (*framingConn, error) { return openStreams(from, "", ids...) }
	open := func(addr string) (int, int) { return l.Streams.Open(netip.MustParseAddr(addr)) }

	// 10.0.0.0/24 fills the listener: 3 streams and 1 from 10.0.0.1, 2
	// from 10.0.0.2.
	a1, _ := accept("10.0.0.1:1000", 1, 3, 5)
	a2, _ := accept("10.0.0.1:1001", 1)
	a3, _ := accept("10.0.0.2:1000", 1, 3)
	if all, _ := open("10.0.0.1"); all != 6 {
		t.Fatalf("the flood holds %d streams; want the listener's 6", all)
	}
	// Another network's stream: the flood's connection holding the most
	// is reset, the stream counted.
	b1, err := accept("10.0.1.1:1000", 1)
	if err != io.EOF || b1.closed {
		t.Fatalf("another network's stream at a full listener: read %v, closed %v; want it served", err, b1.closed)
	}
	if !a1.closed || a2.closed || a3.closed {
		t.Fatalf("reset to make room: a1 %v, a2 %v, a3 %v; want a1 (3 streams) alone", a1.closed, a2.closed, a3.closed)
	}
	if all, held := open("10.0.1.1"); all != 4 || held != 1 {
		t.Fatalf("after making room: counted %d in total, %d for 10.0.1.1; want 4 and 1", all, held)
	}
	// Up to its share: 10.0.1.1 opens 2 more (the listener full again,
	// each network holding 3); a third would leave it more than the
	// other, so its connection is reset, and the other's kept.
	b2, err := accept("10.0.1.1:1001", 1, 3, 5)
	if err == io.EOF || !b2.closed {
		t.Fatalf("a stream past the network's share: read %v, closed %v; want the connection reset", err, b2.closed)
	}
	if a2.closed || a3.closed || b1.closed {
		t.Fatalf("a network at its share reset another's connection: a2 %v, a3 %v, b1 %v", a2.closed, a3.closed, b1.closed)
	}
	if all, held := open("10.0.1.1"); all != 4 || held != 1 {
		t.Fatalf("after the connection past the share was reset: counted %d in total, %d for 10.0.1.1; want 4 and 1", all, held)
	}
	// The flood's own network makes no room from itself: 10.0.0.3 fills
	// the listener, and its next stream resets its own connection.
	a4, err := accept("10.0.0.3:1000", 1, 3, 5)
	if err == io.EOF || !a4.closed || b1.closed || a2.closed || a3.closed {
		t.Fatalf("the heaviest network past the cap: read %v; closed: itself %v, b1 %v, a2 %v, a3 %v; want itself alone", err, a4.closed, b1.closed, a2.closed, a3.closed)
	}
}

// TestStreamRoomSparesConnectionsWithCredentials: making room for streams
// resets, of the heaviest network, its biggest connection whose last call
// showed no valid credentials; one that did (Vouch) is kept, as when
// connections make room: a client with no token in a light network reset
// an authenticated caller's connection, with its calls, for one stream (a
// review).
func TestStreamRoomSparesConnectionsWithCredentials(t *testing.T) {
	_, accept := streamsListener(t, 8, 8)
	// 10.0.0.0/24: a caller with a token, 5 streams, and one without, 1;
	// two other networks 1 each: the listener's 8.
	ministry, _ := accept("10.0.0.1:1000", "token:ministry", 1, 3, 5, 7, 9)
	anonymous, _ := accept("10.0.0.2:1000", "", 1)
	accept("10.0.1.1:1000", "", 1)
	accept("10.0.2.1:1000", "", 1)
	// Another network's stream: the heavy network's connection without
	// credentials is reset, though the ministry's holds more.
	if _, err := accept("10.0.3.1:1000", "", 1); err != io.EOF || ministry.closed || !anonymous.closed {
		t.Fatalf("room made: stream %v; closed: the ministry's %v, the one without a token %v; want the latter alone", err, ministry.closed, anonymous.closed)
	}
	// Now the heavy network holds only connections with credentials, the
	// others hold 1 each: no room is made, the newcomer is reset.
	newcomer, err := accept("10.0.4.1:1000", "", 1)
	if err == io.EOF || !newcomer.closed || ministry.closed {
		t.Fatalf("no connection to reset but one with a token: stream %v, newcomer closed %v, the ministry's closed %v; want the newcomer reset alone", err, newcomer.closed, ministry.closed)
	}
}
