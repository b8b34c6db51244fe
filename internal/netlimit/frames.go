package netlimit

import (
	"errors"
	"net"
)

// HTTP/2 frame types and flags (RFC 9113, section 6), and the client's
// preface that comes before its first frame.
const (
	frameData      = 0x0
	frameHeaders   = 0x1
	frameRSTStream = 0x3
	flagEndStream  = 0x1

	clientPrefaceLen = len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
)

// errTooManyStreams is what a server reads from a connection reset for a
// stream past the Streams caps.
var errTooManyStreams = errors.New("netlimit: the client's streams are over the cap; connection reset")

// CountFrames wraps a connection that a server reads and writes HTTP/2
// frames on (above TLS, if any: a gRPC server's credentials hand it over),
// for the accounting of the connection a Listener accepted, whose
// RemoteAddr c reports: the payload of DATA frames written gives back its
// Unsent budget, and the streams the client opens count under the
// listener's Streams caps until they end (see conn.opened). Any other
// connection is returned as it is.
func CountFrames(c net.Conn) net.Conn {
	a, ok := c.RemoteAddr().(*connAddr)
	if !ok || (a.c.unsent == nil && a.c.streams == nil) {
		return c
	}
	return &frameCounter{Conn: c, counted: a.c, preface: clientPrefaceLen}
}

// frameCounter follows the frames read from and written to a connection,
// with a scanner for each direction. Written frames are scanned twice:
// for the ends of streams before they are written, as grpc-go forgets a
// stream once it hands its last frame to the connection's buffer (scanned
// after, a client that opens a stream as soon as another has ended, at its
// cap, could be found over it); for DATA once written, since only what
// the client was sent gives back the Unsent budget.
type frameCounter struct {
	net.Conn
	counted      *conn
	preface      int // bytes of the client's preface still to be read
	read         frames
	ending, data frames
}

func (f *frameCounter) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	if f.counted.streams != nil {
		if over := f.scanRead(p[:n]); over != nil {
			// The stream past the cap, or the reset past the budget, is
			// not handed to the server: the connection is reset, which
			// ends the client's other streams on it and frees what the
			// server holds for them.
			f.counted.reset()
			return 0, over
		}
	}
	return n, err
}

// scanRead counts the streams the client opens and resets in p, and
// says so when one it opens is over a cap (errTooManyStreams), or one
// it resets is past its Resets budget (errTooManyResets).
func (f *frameCounter) scanRead(p []byte) error {
	skip := min(f.preface, len(p))
	f.preface, p = f.preface-skip, p[skip:]
	for len(p) > 0 {
		var whole bool
		if p, _, whole = f.read.next(p); !whole {
			continue
		}
		switch f.read.typ() {
		case frameHeaders:
			if !f.counted.opened(f.read.stream()) {
				return errTooManyStreams
			}
		case frameRSTStream:
			if !f.counted.cancelled(f.read.stream()) {
				return errTooManyResets
			}
		}
	}
	return nil
}

func (f *frameCounter) Write(p []byte) (int, error) {
	if f.counted.streams != nil {
		f.scanEnds(p)
	}
	n, err := f.Conn.Write(p)
	if f.counted.unsent != nil {
		f.scanData(p[:n])
	}
	return n, err
}

// scanEnds ends the streams that the frames in p end: a frame with
// END_STREAM (grpc-go's trailers, or a trailers-only answer), or a
// RST_STREAM.
func (f *frameCounter) scanEnds(p []byte) {
	for len(p) > 0 {
		var whole bool
		if p, _, whole = f.ending.next(p); !whole {
			continue
		}
		switch typ := f.ending.typ(); {
		case typ == frameRSTStream,
			(typ == frameHeaders || typ == frameData) && f.ending.flags()&flagEndStream != 0:
			f.counted.ended(f.ending.stream())
		}
	}
}

// scanData gives back the Unsent budget for the payload of the DATA
// frames in p.
func (f *frameCounter) scanData(p []byte) {
	var written int64
	for len(p) > 0 {
		var payload int
		p, payload, _ = f.data.next(p)
		if f.data.typ() == frameData {
			written += int64(payload)
		}
	}
	if written > 0 {
		f.counted.account(0, written)
	}
}

// frames follows a sequence of HTTP/2 frames however reads or writes cut
// it: each is a 9-byte header (its payload's length, its type, flags and
// stream id) and the payload. Only frame headers matter here: padding,
// priority fields and header blocks are payload, and a header block's
// CONTINUATION frames name the stream its HEADERS frame opened.
type frames struct {
	header [9]byte
	have   int // bytes of the current frame's header seen
	left   int // bytes of the current frame's payload to come
}

// next consumes p up to the end of the current frame's header or
// payload, and returns the rest, how many bytes of payload it consumed,
// and whether it completed a header (then typ, flags and stream are the
// new frame's; otherwise they are those of the frame the payload belongs
// to).
func (f *frames) next(p []byte) (rest []byte, payload int, whole bool) {
	if f.left > 0 {
		k := min(f.left, len(p))
		f.left -= k
		return p[k:], k, false
	}
	k := copy(f.header[f.have:], p)
	f.have += k
	if f.have < len(f.header) {
		return p[k:], 0, false
	}
	f.have = 0
	f.left = int(f.header[0])<<16 | int(f.header[1])<<8 | int(f.header[2])
	return p[k:], 0, true
}

func (f *frames) typ() byte   { return f.header[3] }
func (f *frames) flags() byte { return f.header[4] }

// stream is the frame's stream id (its reserved high bit cleared).
func (f *frames) stream() uint32 {
	return uint32(f.header[5]&0x7f)<<24 | uint32(f.header[6])<<16 | uint32(f.header[7])<<8 | uint32(f.header[8])
}
