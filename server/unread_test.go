package server_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
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
// which any caller may ask for) is refused with RESOURCE_EXHAUSTED once
// what it left unread on its connection reaches the bound, instead of the
// node keeping every answer in memory: each call ends, leaving the calls
// caps, and grpc-go queues its whole answer (an outside review grew a node
// to 10 GB, and ran one out of memory, from one address). Other clients
// are served meanwhile, and once the client reads, it is served again.
func TestAnswersLeftUnread(t *testing.T) {
	const bound = 256 << 10
	p := newPair(t, server.Limits{UnsentPerConnection: bound, CallTimeout: 5 * time.Minute, StreamTimeout: 5 * time.Minute})
	province := p.start("cao-bang")
	addr := province.srv.GRPCAddr()
	req, err := proto.Marshal(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "provex.border.v1.BorderService"}})
	mustf(t, err, "marshal")
	msg := append([]byte{0}, binary.BigEndian.AppendUint32(nil, uint32(len(req)))...)
	msg = append(msg, req...)
	const method = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"

	h := dialRawH2From(t, "127.0.0.1", addr)
	mustf(t, h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}), "shut the window")
	const streams = 100
	for i := range streams {
		h.call(uint32(2*i+1), addr, method, msg, true)
	}
	// Read until every call has its headers: an accepted call's answer
	// headers, a refused one's trailers (neither is flow-controlled; the
	// answers' data and the accepted calls' trailers wait behind the
	// window).
	codes, answered := map[string]int{}, map[uint32]bool{}
	h.conn.SetReadDeadline(time.Now().Add(time.Minute))
	for len(answered) < streams {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("%d of %d calls answered: %v", len(answered), streams, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				mustf(t, h.fr.WriteSettingsAck(), "ack SETTINGS")
			}
		case *http2.MetaHeadersFrame:
			answered[f.StreamID] = true
			if f.StreamEnded() {
				codes[grpcStatusOf(f)]++
			}
		}
	}
	refused := codes["8"]
	if refused == 0 || len(codes) != 1 {
		t.Fatalf("calls ended with grpc-status %v; want some RESOURCE_EXHAUSTED (8) and nothing else", codes)
	}
	if waiting := len(answered) - refused; waiting < 1 || waiting > streams-refused {
		t.Errorf("%d calls answered, %d refused: want some answers waiting behind the window", len(answered), refused)
	}
	t.Logf("%d calls answered, %d of them refused, at a bound of %d bytes", len(answered), refused, bound)
	if refused < streams/2 {
		t.Errorf("%d of %d calls refused at a bound of %d bytes: the answers held look unbounded", refused, streams, bound)
	}

	// Another client is served meanwhile.
	reflection := reflectionpb.NewServerReflectionClient(province.api.Conn())
	stream, err := reflection.ServerReflectionInfo(testCtx(t))
	mustf(t, err, "open a stream of another client")
	mustf(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}), "send")
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("another client during the flood: %v", err)
	}

	// Once the client opens its window and reads, it is served again.
	mustf(t, h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}), "open the window")
	mustf(t, h.fr.WriteWindowUpdate(0, 1<<30), "open the connection's window")
	h.sync()
	h.call(1001, addr, method, msg, true)
	if got := h.end(1001, 10*time.Second); got != "0" {
		t.Errorf("a call once the client read its answers: grpc-status %s, want 0", got)
	}
}

// grpcStatusOf is the grpc-status of trailers, or "" if none.
func grpcStatusOf(f *http2.MetaHeadersFrame) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == "grpc-status" {
			return hf.Value
		}
	}
	return ""
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
	d := fromAddr("127.0.0.1")
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
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
	get := func(id uint32) {
		var block bytes.Buffer
		enc := hpack.NewEncoder(&block)
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "/v1/provinces/cao-bang/agreements"}, {":authority", "localhost"}} {
			mustf(t, enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}), "encode")
		}
		mustf(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true, EndStream: true}), "HEADERS")
	}
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
