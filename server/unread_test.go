package server_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/server"
)

// TestAnswersLeftUnread: a client with no token that keeps its HTTP/2
// flow-control window shut and asks for answer after answer (reflection's,
// which any caller may ask for) has its connection reset once what it left
// unread there would pass the bound, instead of the node keeping every
// answer in memory: each call ends, leaving the calls caps, and grpc-go
// queues its whole answer (an outside review grew a node to 10 GB, and ran
// one out of memory, from one address). Frames the node writes that do not
// wait for the window (ACKs of empty SETTINGS frames) give back nothing:
// they did, and a client sending them grew a node to 3.9 GB. Other clients
// are served meanwhile, and the client is served again on a new connection.
func TestAnswersLeftUnread(t *testing.T) {
	const bound, streams = 256 << 10, 100
	p := newPair(t, server.Limits{UnsentPerConnection: bound, CallTimeout: 5 * time.Minute, StreamTimeout: 5 * time.Minute})
	province := p.start("cao-bang")
	addr := province.srv.GRPCAddr()
	req, err := proto.Marshal(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "provex.border.v1.BorderService"}})
	mustf(t, err, "marshal")
	msg := append([]byte{0}, binary.BigEndian.AppendUint32(nil, uint32(len(req)))...)
	msg = append(msg, req...)
	const method = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"

	for _, settings := range []int{0, 20000} {
		h := dialRawH2From(t, "127.0.0.1", addr)
		mustf(t, h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}), "shut the window")
		// Read what comes until the node resets the connection, noting
		// each answer's headers (sent as its message is queued).
		reset, headers := make(chan error, 1), make(chan struct{}, streams)
		go func() {
			h.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				f, err := h.fr.ReadFrame()
				if err != nil {
					reset <- err
					return
				}
				if f, ok := f.(*http2.MetaHeadersFrame); ok && !f.StreamEnded() {
					headers <- struct{}{}
				}
			}
		}()
		sent := 0
	calls:
		for i := range streams {
			var call bytes.Buffer
			if err := writeCall(&call, uint32(2*i+1), addr, method, msg, true); err != nil {
				t.Fatal(err)
			}
			if _, err := h.conn.Write(call.Bytes()); err != nil {
				break
			}
			sent++
			if settings == 0 {
				continue
			}
			// Once its answer waits, empty SETTINGS frames for the node
			// to acknowledge.
			select {
			case <-headers:
			case err := <-reset:
				reset <- err
				break calls
			}
			var frames bytes.Buffer
			fr := http2.NewFramer(&frames, nil)
			for range settings {
				fr.WriteSettings()
			}
			if _, err := h.conn.Write(frames.Bytes()); err != nil {
				break
			}
		}
		var ne net.Error
		if err := <-reset; errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%d empty SETTINGS a call: %d calls' answers (about 100 KB each) left unread at a bound of %d bytes, and the connection still open", settings, sent, bound)
		}
		t.Logf("%d empty SETTINGS a call: the connection reset after %d calls were sent", settings, sent)
	}

	// Another client is served.
	reflection := reflectionpb.NewServerReflectionClient(province.api.Conn())
	stream, err := reflection.ServerReflectionInfo(testCtx(t))
	mustf(t, err, "open a stream of another client")
	mustf(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}), "send")
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("another client: %v", err)
	}
	// And the client, on a new connection that reads its answers: what
	// the reset connections held was given back.
	h := dialRawH2From(t, "127.0.0.1", addr)
	mustf(t, h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}), "open the window")
	mustf(t, h.fr.WriteWindowUpdate(0, 1<<30), "open the connection's window")
	h.call(1, addr, method, msg, true)
	if got := h.end(1, 10*time.Second); got != "0" {
		t.Errorf("a call on a new connection of the client: grpc-status %s, want 0", got)
	}
}

// TestHTTP2AnswersLeftUnread: over HTTP/2 (the HTTP listener with TLS), a
// client with no token that keeps its flow-control window shut holds a
// request's place under the calls caps until its answer is written, so its
// requests over the cap get 429 (headers alone, which the window does not
// hold back); net/http wrote the answer after the handler returned, and a
// goroutine waited on the window for each request, uncounted (64,000 from
// one address in an outside review). Once the client reads, it is served.
func TestHTTP2AnswersLeftUnread(t *testing.T) {
	const perAddress, streams = 20, 60
	p := newPair(t, server.Limits{CallsPerAddress: perAddress, WriteTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	p.tlsAPI = true
	addr := p.start("cao-bang").srv.HTTPAddr()
	c, fr := dialShutH2(t, p, "127.0.0.1", addr)
	get := func(id uint32) { getH2(t, fr, id, "/v1/provinces/cao-bang/agreements") }
	// read reads frames until done says so (given the answers' headers
	// by :status, "… headers alone" for those that end the stream, and the
	// streams ended by their data), within a minute.
	got, ended := map[string]int{}, 0
	read := func(done func() bool) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(time.Minute))
		for !done() {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("answers so far %v, %d ended by their data: %v", got, ended, err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					mustf(t, fr.WriteSettingsAck(), "ack SETTINGS")
				}
			case *http2.MetaHeadersFrame:
				got[f.PseudoValue("status")]++
				if f.StreamEnded() {
					got[f.PseudoValue("status")+" headers alone"]++
				}
			case *http2.DataFrame:
				if f.StreamEnded() {
					ended++
				}
			}
		}
	}
	for i := range streams {
		get(uint32(2*i + 1))
	}
	read(func() bool { return got["401"]+got["429"] == streams })
	if got["401"] != perAddress || got["429 headers alone"] != streams-perAddress {
		t.Fatalf("answers to %d requests with a shut window: %v; want %d 401s waiting for the window and %d 429s of headers alone", streams, got, perAddress, streams-perAddress)
	}
	mustf(t, fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}), "open the window")
	mustf(t, fr.WriteWindowUpdate(0, 1<<30), "open the connection's window")
	read(func() bool { return ended == perAddress }) // the 401s' bodies, their places given back first
	clear(got)
	get(1001)
	read(func() bool { return got["401"]+got["429"] == 1 })
	if got["401"] != 1 {
		t.Errorf("a request once the client read its answers: %v, want its 401", got)
	}
}

// dialShutH2 opens an HTTP/2 connection from the loopback address from to
// the HTTP listener at addr of a node of p serving TLS, with its streams'
// flow-control window shut: the node's answers wait for it.
func dialShutH2(t *testing.T, p *pair, from, addr string) (*tls.Conn, *http2.Framer) {
	t.Helper()
	c, err := tls.DialWithDialer(fromAddr(from), "tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	mustf(t, err, "dial %s", addr)
	t.Cleanup(func() { c.Close() })
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("protocol %q, want h2", c.ConnectionState().NegotiatedProtocol)
	}
	_, err = c.Write([]byte(http2.ClientPreface))
	mustf(t, err, "preface")
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	mustf(t, fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}), "shut the window")
	return c, fr
}

// getH2 sends a GET of path on stream id, with header fields extra.
func getH2(t *testing.T, fr *http2.Framer, id uint32, path string, extra ...[2]string) {
	t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range append([][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", path}, {":authority", "localhost"}}, extra...) {
		mustf(t, enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}), "encode")
	}
	mustf(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true, EndStream: true}), "HEADERS")
}
