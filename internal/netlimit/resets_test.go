package netlimit_test

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/internal/netlimit"
	"github.com/provex/provex/internal/testlog"
)

// TestResetsPastTheBudgetResetTheConnection: a client's resets of the
// streams a connection holds open take its Resets budget; the reset past
// it resets the connection, which gives back its streams, and is logged.
// Resets of streams ended or never opened take nothing, and a client
// resetting a few of its streams keeps its connection. Without the budget
// one connection opened and reset 289,606 streams in 10 s, refused by
// nothing (an outside review; "rapid reset").
func TestResetsPastTheBudgetResetTheConnection(t *testing.T) {
	const burst = 4
	var logs testlog.Buffer
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := netlimit.Limit(inner, "gRPC", 0, 0, nil)
	t.Cleanup(func() { l.Close() })
	l.Streams = netlimit.NewCaps("gRPC", "streams", 0, 0, nil)
	// Next to nothing a second: the budget is the burst, whatever the
	// test's pace.
	l.Resets = netlimit.NewResets("gRPC", 1e-9, burst, slog.New(slog.NewTextHandler(&logs, nil)))
	type ending struct {
		from string
		err  error
	}
	ended := make(chan ending, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				counted, buf := netlimit.CountFrames(c), make([]byte, 7) // shorter than a frame's header
				for {
					if _, err := counted.Read(buf); err != nil {
						ended <- ending{netlimit.Client(c.RemoteAddr()).String(), err}
						return
					}
				}
			}()
		}
	}()
	frames := func(c net.Conn, opens, resets []uint32) {
		t.Helper()
		var p []byte
		for _, id := range opens {
			p = append(p, streamFrame(headersFrame, endHeaders, id, 10)...)
		}
		for _, id := range resets {
			p = append(p, streamFrame(rstFrame, 0, id, 4)...)
		}
		if _, err := c.Write(p); err != nil {
			t.Fatalf("writing frames: %v", err)
		}
	}
	// held waits until from holds want streams, which it reaches only
	// once every frame written has been read.
	held := func(from string, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, n := l.Streams.Open(netip.MustParseAddr(from))
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %d streams, want %d", from, n, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	noneEnded := func(when string) {
		t.Helper()
		select {
		case e := <-ended:
			t.Fatalf("%s: the connection from %s ended: %v", when, e.from, e.err)
		default:
		}
	}

	// An honest client cancels 3 of its 5 calls (and resets them again,
	// and a stream it never opened), then makes 4 more.
	honest := dialFrom(t, "127.0.0.2", l.Addr().String())
	honest.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	frames(honest, []uint32{1, 3, 5, 7, 9}, []uint32{3, 5, 7, 3, 5, 7, 1001})
	frames(honest, []uint32{11, 13, 15, 17}, nil)
	held("127.0.0.2", 6) // more than it held before its resets
	noneEnded("a client resetting fewer streams than the budget")

	// A rapid reset: 20 resets of streams never opened take nothing; the
	// burst's 4 of streams held are let through.
	rapid := dialFrom(t, "127.0.0.3", l.Addr().String())
	rapid.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	for id := uint32(1001); id < 1041; id += 2 {
		frames(rapid, nil, []uint32{id})
	}
	for id := uint32(1); id < 2*burst; id += 2 {
		frames(rapid, []uint32{id}, []uint32{id})
	}
	frames(rapid, []uint32{9, 11}, nil)
	held("127.0.0.3", 2)
	noneEnded("resets within the budget")
	// The next reset of a stream held resets the connection.
	frames(rapid, []uint32{13}, []uint32{13})
	select {
	case e := <-ended:
		if e.from != "127.0.0.3" || !strings.Contains(e.err.Error(), "budget") {
			t.Fatalf("the connection from %s ended with %v; want 127.0.0.3's, past its budget", e.from, e.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a reset past the budget did not end the connection")
	}
	if !closedByServer(rapid, 10*time.Second) {
		t.Fatal("the connection past its budget was not closed")
	}
	held("127.0.0.3", 0)
	held("127.0.0.2", 6)
	noneEnded("after another client's connection was reset")
	if !strings.Contains(logs.String(), "refused stream resets over the cap") || !strings.Contains(logs.String(), "last_from=127.0.0.3") {
		t.Errorf("the reset past the budget was not logged:\n%s", logs.String())
	}
}
