package server

import (
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	protov2 "google.golang.org/protobuf/proto"

	"github.com/provex/provex/internal/validation"
)

// requestCodec is the proto codec of the node's gRPC servers. It decodes a
// request message only once the guard has admitted its call. grpc-go
// unmarshals a unary request before any interceptor runs, and what a
// message costs to decode is not its size: 4 MiB of empty repeated
// messages are 2 million of them, 340 MB allocated and a second or two of
// CPU, which a caller without a token could have the node spend on each
// of its calls, to be told UNAUTHENTICATED after. So Unmarshal keeps the
// message's bytes, by the message's identity, and decode unmarshals them:
// the chain's validation (after the guard) for a unary call, RecvMsg of a
// stream's messages, which run inside the guard.
//
// A request that does not unmarshal (a string that is not UTF-8, bytes
// that are not protobuf) is the caller's mistake, but grpc-go answers a
// codec error with INTERNAL before any interceptor runs: no request id, no
// log line, no field named. decode answers it INVALID_ARGUMENT naming the
// fields, as with any other refusal.
type requestCodec struct {
	encoding.CodecV2
	// kept maps a request message, by identity, to its bytes; the chain
	// takes its entry out as soon as it sees the message.
	kept sync.Map
}

func newRequestCodec() *requestCodec {
	return &requestCodec{CodecV2: encoding.GetCodecV2(proto.Name)}
}

func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if _, ok := v.(protov2.Message); !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	// A copy: grpc-go frees data's buffers once Unmarshal returns.
	c.kept.Store(v, data.Materialize())
	return nil
}

// take returns the bytes kept for req, and forgets them; false for a
// message the codec did not see (a gateway call's, decoded from JSON).
func (c *requestCodec) take(req any) ([]byte, bool) {
	b, ok := c.kept.LoadAndDelete(req)
	if !ok {
		return nil, false
	}
	return b.([]byte), true
}

// keptSize is the size of the bytes kept for req; false for a message
// the codec did not see.
func (c *requestCodec) keptSize(req any) (int, bool) {
	b, ok := c.kept.Load(req)
	if !ok {
		return 0, false
	}
	return len(b.([]byte)), true
}

// decodeRequest unmarshals data, a request of method, into m: nil, or
// INVALID_ARGUMENT naming what did not unmarshal, or the field past
// validation.MaxElements (read first, without decoding), or, in a request
// held to its schema (strictSchema), each number its field cannot hold,
// which protobuf would cut to its low 32 bits; m then left empty.
func decodeRequest(data []byte, m protov2.Message, method string) error {
	md := m.ProtoReflect().Descriptor()
	if err := validation.TooManyElements(data, md); err != nil {
		return err
	}
	if err := protov2.Unmarshal(data, m); err != nil {
		protov2.Reset(m)
		return validation.DecodeError(data, md, err)
	}
	if strictSchema(method) {
		if err := validation.NumbersFit(data, md); err != nil {
			protov2.Reset(m)
			return err
		}
	}
	return nil
}

// decode unmarshals the bytes kept for m, a request of method, into it
// (take, then decodeRequest); nil for a message the codec did not see.
func (c *requestCodec) decode(m any, method string) error {
	pm, ok := m.(protov2.Message)
	if !ok {
		return nil
	}
	data, ok := c.take(m)
	if !ok {
		return nil
	}
	return decodeRequest(data, pm, method)
}

// uncompressedOnly is the node's gRPC servers' decompressor for gzip: it
// refuses every compressed message. The node's clients and peers never
// compress, but grpc-go's gzip is registered in the process (the OTLP
// trace exporter imports it), and grpc-go inflates a request, up to
// Limits.MaxMessageBytes, before any interceptor runs: before the guard
// and the rate limit. 4 KB of gzip are 4 MiB of zeros; 1024 anonymous
// calls of 4 KB took a node from 51 MB to 4.7 GB (an outside review). A
// message named with a compressor not registered, grpc-go refuses on its
// headers (UNIMPLEMENTED).
//
// Refused here, a compressed message is read as any message is (within
// Limits.MaxMessageBytes), then its call ends as calls end. Not in the
// tap: grpc-go does not show it grpc-encoding (a reserved header), and it
// never ends the context of a call the tap refuses (capCalls). Not by
// registering a "gzip" of the node's own: that is the whole process's, so
// the trace exporter's own gzip (OTEL_EXPORTER_OTLP_COMPRESSION) would
// fail, and which of two registrations wins is up to the order packages
// are initialized in.
//
// The caller sees INTERNAL, grpc-go's code for a message that does not
// decompress, with this explanation; grpc-go answers it before the chain,
// so the node logs no line for it.
type uncompressedOnly struct{}

func (uncompressedOnly) Do(io.Reader) ([]byte, error) {
	return nil, errors.New("this node takes uncompressed messages only: send them without grpc-encoding (or with grpc-encoding identity)")
}

func (uncompressedOnly) Type() string { return "gzip" }
