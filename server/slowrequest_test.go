package server_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	"github.com/provex/provex/server"
)

// rawH2 is an HTTP/2 client speaking frames, so a test can send a call's
// headers and then only part of its request message, which no gRPC client
// would do.
type rawH2 struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
}

func dialRawH2(t *testing.T, addr string) *rawH2 {
	t.Helper()
	return dialRawH2From(t, "127.0.0.1", addr)
}

// dialRawH2From is dialRawH2 from the loopback address from.
func dialRawH2From(t *testing.T, from, addr string) *rawH2 {
	t.Helper()
	c, err := fromAddr(from).Dial("tcp", addr)
	mustf(t, err, "dial %s", addr)
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatalf("write preface: %v", err)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	mustf(t, fr.WriteSettings(), "write SETTINGS")
	return &rawH2{t: t, conn: c, fr: fr}
}

// call opens stream id for method, with header fields extra, and sends
// body as its DATA, without ending the stream when the body is not a whole
// message. Its frames go in one write: a node that resets the connection
// on the headers (a call over a cap) does so after the write, not between
// its frames, and reads the message before it acts on the headers.
func (h *rawH2) call(id uint32, addr, method string, body []byte, end bool, extra ...[2]string) {
	h.t.Helper()
	var frames bytes.Buffer
	mustf(h.t, writeCall(&frames, id, addr, method, body, end, extra...), "frame the call")
	_, err := h.conn.Write(frames.Bytes())
	mustf(h.t, err, "write the call")
}

// writeCall writes the frames of a call to w: its headers, with extra
// fields, and body as its DATA, ending the stream if end.
func writeCall(w io.Writer, id uint32, addr, method string, body []byte, end bool, extra ...[2]string) error {
	block, err := callHeaders(addr, method, extra)
	if err != nil {
		return err
	}
	fr := http2.NewFramer(w, nil)
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}); err != nil {
		return err
	}
	return fr.WriteData(id, end, body)
}

// callHeaders is the header block of a gRPC call of method to addr, with
// extra fields after the call's own.
func callHeaders(addr, method string, extra [][2]string) ([]byte, error) {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range append([][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", method}, {":authority", addr},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	}, extra...) {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			return nil, fmt.Errorf("encode %s: %w", f[0], err)
		}
	}
	return block.Bytes(), nil
}

// end waits up to within for the node to end stream id, and returns the
// grpc-status of its trailers (a number), or "RST_STREAM" if it reset the
// stream.
func (h *rawH2) end(id uint32, within time.Duration) string {
	h.t.Helper()
	code, _ := h.endStatus(id, within)
	return code
}

// endStatus is end with the grpc-message of the trailers ("" if none).
func (h *rawH2) endStatus(id uint32, within time.Duration) (code, message string) {
	h.t.Helper()
	h.conn.SetReadDeadline(time.Now().Add(within))
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("stream %d not ended by the node within %v: %v", id, within, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				mustf(h.t, h.fr.WriteSettingsAck(), "ack SETTINGS")
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				mustf(h.t, h.fr.WritePing(true, f.Data), "answer PING")
			}
		case *http2.GoAwayFrame:
			// A node shutting down says so and still serves the calls
			// it has begun (grpc-go's drain).
			if f.ErrCode != http2.ErrCodeNo || f.LastStreamID < id {
				h.t.Fatalf("GOAWAY (%v) before stream %d ended", f.ErrCode, id)
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return "RST_STREAM", ""
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == id && f.StreamEnded() {
				code = "no grpc-status"
				for _, hf := range f.RegularFields() {
					switch hf.Name {
					case "grpc-status":
						code = hf.Value
					case "grpc-message":
						message = hf.Value
					}
				}
				return code, message
			}
		}
	}
}

// grpcMessage frames a message of n bytes (zeros) as gRPC does.
func grpcMessage(n int) []byte {
	b := make([]byte, 5+n)
	binary.BigEndian.PutUint32(b[1:5], uint32(n))
	return b
}

// TestSlowRequestMessage: a call whose headers arrive but whose request
// message never finishes is ended at its deadline (CallTimeout for a unary
// method, StreamTimeout for a streaming one), rather than holding its
// stream for as long as the connection lives. grpc-go reads a unary request
// before any interceptor runs, so only a deadline set as the stream is
// created covers it.
func TestSlowRequestMessage(t *testing.T) {
	n := newPair(t, server.Limits{CallTimeout: time.Second, StreamTimeout: time.Second}).start("cao-bang").srv
	addr := n.GRPCAddr()
	const within = 10 * time.Second
	deadlineExceeded := strconv.Itoa(int(codes.DeadlineExceeded))

	t.Run("unary", func(t *testing.T) {
		h := dialRawH2(t, addr)
		// A whole message is answered: the raw client speaks gRPC.
		h.call(1, addr, nodev1.NodeService_GetCaller_FullMethodName, grpcMessage(0), true)
		if got := h.end(1, within); got != "0" {
			t.Fatalf("a whole GetCaller request: got grpc-status %q, want 0", got)
		}
		msg := grpcMessage(100)
		h.call(3, addr, nodev1.NodeService_GetCaller_FullMethodName, msg[:7], false)
		if got := h.end(3, within); got != deadlineExceeded {
			t.Fatalf("a GetCaller request message cut short: got %q, want DEADLINE_EXCEEDED (4)", got)
		}
	})
	t.Run("stream", func(t *testing.T) {
		h := dialRawH2(t, addr)
		msg := grpcMessage(100)
		h.call(1, addr, healthpb.Health_Watch_FullMethodName, msg[:7], false)
		if got := h.end(1, within); got != deadlineExceeded {
			t.Fatalf("a Health.Watch request message cut short: got %q, want DEADLINE_EXCEEDED (4)", got)
		}
	})
}

// TestHeadersBounded: a call whose header fields decode to more than 16 KiB
// is not served, whatever they cost to send: HPACK repeats an indexed
// field in a byte or two, and grpc-go otherwise holds up to 16 MiB of
// decoded headers a call until it ends (2 MB sent held 4 GB). A block
// compact as sent (within one frame) resets the call alone, and a call
// with ordinary headers on the same connection is served; a block large
// as sent (a field over 16 KiB, or a CONTINUATION frame after the fields
// have passed 16 KiB: x/net's framer, which grpc-go reads with) closes the
// whole connection (an outside review's 1 MiB value and 5,000 fields).
func TestHeadersBounded(t *testing.T) {
	n := newPair(t, server.Limits{}).start("cao-bang").srv
	addr := n.GRPCAddr()
	h := dialRawH2(t, addr)
	pad := [2]string{"x-pad", strings.Repeat("a", 2000)}
	var extra [][2]string
	for range 40 {
		extra = append(extra, pad)
	}
	h.call(1, addr, "/grpc.health.v1.Health/Check", grpcMessage(0), true, extra...)
	if got := h.end(1, 10*time.Second); got != "RST_STREAM" {
		t.Errorf("a call with 80 KB of header fields: %s, want RST_STREAM", got)
	}
	h.call(3, addr, "/grpc.health.v1.Health/Check", grpcMessage(0), true, pad)
	if got := h.end(3, 10*time.Second); got != "0" {
		t.Errorf("a call with 2 KB of header fields: grpc-status %s, want 0", got)
	}

	var many [][2]string
	for i := range 5000 {
		many = append(many, [2]string{"x-f-" + strconv.Itoa(i), "v"})
	}
	for what, fields := range map[string][][2]string{
		"one field of 64 KiB": {{"x-pad", strings.Repeat("a", 64<<10)}},
		"5,000 fields":        many,
	} {
		big := dialRawH2(t, addr)
		big.sync()
		big.callInFrames(1, addr, "/grpc.health.v1.Health/Check", fields)
		if !big.closed(10 * time.Second) {
			t.Errorf("a call with %s in its headers, in frames of 16 KiB: the connection stays open, want it closed", what)
		}
	}
}

// callInFrames opens stream id for method with header fields extra, its
// header block in a HEADERS frame and CONTINUATION frames of at most 16
// KiB (the largest frame a peer must take), ending the stream.
func (h *rawH2) callInFrames(id uint32, addr, method string, extra [][2]string) {
	h.t.Helper()
	b, err := callHeaders(addr, method, extra)
	mustf(h.t, err, "the call's headers")
	const frame = 16 << 10
	first := b[:min(frame, len(b))]
	b = b[len(first):]
	var frames bytes.Buffer
	fr := http2.NewFramer(&frames, nil)
	mustf(h.t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(b) == 0}), "frame the headers")
	for len(b) > 0 {
		next := b[:min(frame, len(b))]
		b = b[len(next):]
		mustf(h.t, fr.WriteContinuation(id, len(b) == 0, next), "frame a CONTINUATION")
	}
	// The node may close the connection before the last frames are
	// written: that is what the caller checks.
	_, _ = h.conn.Write(frames.Bytes())
}
