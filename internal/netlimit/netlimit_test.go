package netlimit_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/internal/netlimit"
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
	// The total cap holds whatever the address.
	if !refused(t, "127.0.0.4", addr) {
		t.Fatal("a connection over the total cap stayed open")
	}
	// A closed connection frees its slot.
	held[0].Close()
	waitOpen(t, l, "127.0.0.1", 4, 2)
	again := dialFrom(t, "127.0.0.1", addr)
	waitOpen(t, l, "127.0.0.1", 5, 3)
	if closedByServer(again, 200*time.Millisecond) {
		t.Fatal("a connection within the caps was closed")
	}
	// Eleven refusals, one log line.
	if n := strings.Count(logs.String(), "refused connections over the cap"); n != 1 {
		t.Errorf("%d log lines about refusals, want 1 (at most one per %v):\n%s", n, netlimit.LogEvery, logs.String())
	}
}
