package server_test

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	"github.com/provex/provex/server"
)

const healthCheck = "/grpc.health.v1.Health/Check"

// stallChecks opens n health checks on h, from stream id first on, each
// whole (its message and END_STREAM with its headers), in one write. With
// the client's window shut, grpc-go holds each until its trailers, queued
// behind its answer's DATA, are written: never.
func stallChecks(h *rawH2, addr string, first uint32, n int) {
	h.t.Helper()
	var frames bytes.Buffer
	for i := range uint32(n) {
		mustf(h.t, writeCall(&frames, first+2*i, addr, healthCheck, grpcMessage(0), true), "frame a check")
	}
	// A connection the node resets midway fails the write or the next
	// read: closed says which.
	h.conn.Write(frames.Bytes())
}

// shutWindow opens a raw connection from from whose streams get a
// flow-control window of zero.
func shutWindow(t *testing.T, from, addr string) *rawH2 {
	h := dialRawH2From(t, from, addr)
	mustf(t, h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}), "shut the window")
	return h
}

// streamsNode starts a node whose gRPC server holds at most total
// streams, perAddress of a client, with calls and connections that wait;
// it returns its address, and the streams it holds open, in total and
// from a client.
func streamsNode(t *testing.T, total, perAddress int) (string, func(from string) (int, int)) {
	p := newPair(t, server.Limits{Streams: total, StreamsPerAddress: perAddress, CallTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	province := p.start("cao-bang")
	return province.srv.GRPCAddr(), func(from string) (int, int) {
		return server.OpenStreams(province.srv, "gRPC", netip.MustParseAddr(from))
	}
}

// TestStreamsOfClientsThatDoNotReadAreBounded: a client with no token
// that keeps its flow-control window shut and makes call after call (a
// health check, whose answer is 7 bytes) holds a stream in grpc-go for
// each until its trailers are written, after the handler has returned
// (out of the calls caps) and under the Unsent bounds: an outside review
// held 119,000 such streams, 400 MB, from 8 addresses. The node counts the
// streams it holds open, by client over its connections and in total; a
// stream over either cap resets the connection that opens it, which gives
// back its streams, and the client's other connections keep theirs. The
// count stays within the caps, and the client is served again on a
// connection that reads.
func TestStreamsOfClientsThatDoNotReadAreBounded(t *testing.T) {
	const perAddress, total = 50, 80
	addr, open := streamsNode(t, total, perAddress)
	within := func() {
		t.Helper()
		if all, _ := open("127.0.0.1"); all > total {
			t.Fatalf("%d streams open, over the cap of %d", all, total)
		}
	}

	// Two connections of 20 stalled checks each are held.
	var kept []*rawH2
	for range 2 {
		h := shutWindow(t, "127.0.0.1", addr)
		stallChecks(h, addr, 1, 20)
		h.sync()
		kept = append(kept, h)
	}
	if _, held := open("127.0.0.1"); held != 40 {
		t.Fatalf("after 40 checks left unread: %d streams counted for the client, want 40", held)
	}
	// A third: its 11th check passes the client's 50, and resets it.
	over := shutWindow(t, "127.0.0.1", addr)
	stallChecks(over, addr, 1, 20)
	if !over.closed(10 * time.Second) {
		t.Fatal("a connection opening a stream past the client's cap was not reset")
	}
	waitFor(t, 10*time.Second, "the reset connection's streams given back", func() bool {
		_, held := open("127.0.0.1")
		return held == 40
	})
	within()
	for _, h := range kept {
		h.sync() // still open
	}

	// Other addresses fill the listener's 80: the stream past it resets
	// its connection, whatever its client holds.
	other := shutWindow(t, "127.0.0.4", addr)
	stallChecks(other, addr, 1, 30)
	other.sync()
	within()
	last := shutWindow(t, "127.0.0.5", addr)
	stallChecks(last, addr, 1, 20)
	if !last.closed(10 * time.Second) {
		t.Fatal("a connection opening a stream past the listener's cap was not reset")
	}
	waitFor(t, 10*time.Second, "the reset connection's streams given back", func() bool {
		all, _ := open("127.0.0.1")
		return all == 70
	})

	// Once its stalled connections close, the client is served on one
	// that reads; nothing of the closed ones is still counted.
	for _, h := range kept {
		h.conn.Close()
	}
	other.conn.Close()
	waitFor(t, 10*time.Second, "the closed connections' streams given back", func() bool {
		all, _ := open("127.0.0.1")
		return all == 0
	})
	h := dialRawH2From(t, "127.0.0.1", addr)
	h.call(1, addr, healthCheck, grpcMessage(0), true)
	if got := h.end(1, 10*time.Second); got != "0" {
		t.Errorf("a check on a connection that reads: grpc-status %s, want 0", got)
	}
}

// TestStreamsFloodOfOneNetworkMakesRoom: clients of one network that keep
// their window shut fill the listener's streams; a client of another
// network is served all the same, on a connection that is not reset: the
// flood's connection holding the most streams is reset instead.
func TestStreamsFloodOfOneNetworkMakesRoom(t *testing.T) {
	const perAddress, total = 50, 80
	addr, open := streamsNode(t, total, perAddress)
	var flood []*rawH2
	for _, f := range []struct {
		from   string
		checks int
	}{{"127.0.0.1", 25}, {"127.0.0.1", 25}, {"127.0.0.2", 30}} {
		h := shutWindow(t, f.from, addr)
		stallChecks(h, addr, 1, f.checks)
		h.sync()
		flood = append(flood, h)
	}
	if all, _ := open("127.0.0.1"); all != total {
		t.Fatalf("the flood holds %d streams, want the listener's %d", all, total)
	}

	h := dialRawH2From(t, "127.0.1.1", addr)
	h.call(1, addr, healthCheck, grpcMessage(0), true)
	if got := h.end(1, 10*time.Second); got != "0" {
		t.Fatalf("another network's check at a full listener: grpc-status %s, want 0", got)
	}
	if !flood[2].closed(10 * time.Second) {
		t.Fatal("the flood's connection holding the most streams was not reset")
	}
	for _, kept := range flood[:2] {
		kept.sync() // still open
	}
	waitFor(t, 10*time.Second, "the reset connection's streams given back", func() bool {
		all, _ := open("127.0.0.1")
		return all == 50
	})
}

// TestStreamsOfClientsThatReadEnd: a client that reads its answers holds
// a stream only until its trailers are written, so a client making calls
// one after another, or as many at once as the streams cap, never passes
// it (the node ends a stream as grpc-go hands its trailers to the
// connection, before the client can see them and start another); streams
// too (reflection's, half-closed by the client). Its connection is never
// reset, and nothing stays counted.
func TestStreamsOfClientsThatReadEnd(t *testing.T) {
	const perAddress = 4
	p := newPair(t, server.Limits{StreamsPerAddress: perAddress})
	province := p.start("cao-bang")
	ctx := testCtx(t)
	for i := range 1000 {
		if _, err := province.api.Node.GetCaller(ctx, &nodev1.GetCallerRequest{}); err != nil {
			t.Fatalf("call %d, each made once the one before had its answer: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, perAddress)
	for range perAddress {
		wg.Go(func() {
			for range 250 {
				if _, err := province.api.Node.GetCaller(ctx, &nodev1.GetCallerRequest{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("calls %d at a time, at the streams cap: %v", perAddress, err)
	}
	reflectionStreamsInTurn(t, province.api.Conn(), 200)
	if all, held := server.OpenStreams(province.srv, "gRPC", netip.MustParseAddr("127.0.0.2")); all != 0 || held != 0 {
		t.Errorf("after every call had its answer: %d streams counted, %d for the client; want none", all, held)
	}
}

// TestResetOfAnEndedStreamEarnsNothing: streams are counted by id, so a
// client resetting a stream that has ended, or one it never opened, or
// one twice, gives back nothing; resetting a stream the node holds gives
// back its place.
func TestResetOfAnEndedStreamEarnsNothing(t *testing.T) {
	const perAddress = 4
	p := newPair(t, server.Limits{StreamsPerAddress: perAddress, CallTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	province := p.start("cao-bang")
	addr := province.srv.GRPCAddr()
	held := func() int {
		_, n := server.OpenStreams(province.srv, "gRPC", netip.MustParseAddr("127.0.0.1"))
		return n
	}
	h := dialRawH2From(t, "127.0.0.1", addr)
	h.call(1, addr, healthCheck, grpcMessage(0), true)
	if got := h.end(1, 10*time.Second); got != "0" {
		t.Fatalf("a check with the window open: grpc-status %s, want 0", got)
	}
	mustf(t, h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}), "shut the window")
	stallChecks(h, addr, 3, perAddress) // 3, 5, 7, 9: the cap
	h.sync()
	if got := held(); got != perAddress {
		t.Fatalf("%d stalled checks: %d counted, want %d", perAddress, got, perAddress)
	}
	// Resetting one of them gives its place back, to stream 11.
	mustf(t, h.fr.WriteRSTStream(3, http2.ErrCodeCancel), "reset a stream held")
	stallChecks(h, addr, 11, 1)
	h.sync()
	if got := held(); got != perAddress {
		t.Fatalf("a held stream reset and another opened: %d counted, want %d", got, perAddress)
	}
	// Resets of the ended stream 1, of 3 again, of a stream never opened.
	for range 10 {
		mustf(t, h.fr.WriteRSTStream(1, http2.ErrCodeCancel), "reset an ended stream")
		mustf(t, h.fr.WriteRSTStream(3, http2.ErrCodeCancel), "reset a reset stream")
		mustf(t, h.fr.WriteRSTStream(1001, http2.ErrCodeCancel), "reset a stream never opened")
	}
	h.sync()
	if got := held(); got != perAddress {
		t.Fatalf("after resets of streams not held: %d counted, want %d", got, perAddress)
	}
	stallChecks(h, addr, 13, 1)
	if !h.closed(10 * time.Second) {
		t.Fatal("a stream past the cap, after resets of streams not held, did not reset the connection")
	}
}

// TestRapidResetClosesTheConnection: a client with no token that opens
// calls and resets each at once (HEADERS, then RST_STREAM), as an outside
// review did 289,606 times in 10 s on one connection, refused, logged
// and counted by nothing ("rapid reset", CVE-2023-44487), has its
// connection reset past its budget of resets (Limits.StreamResetsBurst);
// a client that cancels every call it may hold on a connection at once (a
// shared context's cancel or deadline: an outside review cut off such a
// client of 250 calls with a budget of 200) keeps its connection and is
// served on it.
func TestRapidResetClosesTheConnection(t *testing.T) {
	p := newPair(t, server.Limits{})
	province := p.start("cao-bang")
	addr := province.srv.GRPCAddr()

	honest := dialRawH2From(t, "127.0.0.2", addr)
	held := server.DefaultLimits().StreamsPerConnection
	for i := range held {
		honest.call(1+2*i, addr, healthCheck, nil, false) // its message not sent yet
	}
	for i := range held {
		mustf(t, honest.fr.WriteRSTStream(1+2*i, http2.ErrCodeCancel), "cancel a call")
	}
	honest.sync()
	next := 1 + 2*held
	honest.call(next, addr, healthCheck, grpcMessage(0), true)
	if got := honest.end(next, 10*time.Second); got != "0" {
		t.Fatalf("a check after %d calls in flight cancelled at once on its connection: grpc-status %s, want 0", held, got)
	}

	rapid := dialRawH2From(t, "127.0.0.3", addr)
	var frames bytes.Buffer
	for i := range uint32(1000) {
		id := 1 + 2*i
		mustf(t, writeCall(&frames, id, addr, healthCheck, nil, false), "frame a call")
		mustf(t, http2.NewFramer(&frames, nil).WriteRSTStream(id, http2.ErrCodeCancel), "frame its reset")
	}
	// A connection the node resets midway fails the write: closed says so.
	rapid.conn.Write(frames.Bytes())
	if !rapid.closed(10 * time.Second) {
		t.Fatal("1,000 calls opened and reset at once did not reset the connection")
	}

	honest.call(next+2, addr, healthCheck, grpcMessage(0), true)
	if got := honest.end(next+2, 10*time.Second); got != "0" {
		t.Fatalf("a check after another client's connection was reset: grpc-status %s, want 0", got)
	}
}
