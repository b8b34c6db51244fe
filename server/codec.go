package server

import (
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	protov2 "google.golang.org/protobuf/proto"

	"github.com/provex/provex/internal/validation"
)

// requestCodec is the proto codec of the node's gRPC servers. A request that
// does not unmarshal (a string that is not UTF-8, bytes that are not
// protobuf) is the caller's mistake, but grpc-go answers a codec error with
// INTERNAL before any interceptor runs: no request id, no log line, no field
// named. So the codec leaves the message empty, keeps why it failed, and the
// interceptors, which receive the same message, answer with that
// (INVALID_ARGUMENT naming the fields) as with any other refusal.
type requestCodec struct {
	encoding.CodecV2
	// malformed maps a request message, by identity, to why it did not
	// unmarshal; an interceptor takes its entry out as soon as it sees the
	// message.
	malformed sync.Map
}

func newRequestCodec() *requestCodec {
	return &requestCodec{CodecV2: encoding.GetCodecV2(proto.Name)}
}

func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(protov2.Message)
	if err == nil || !ok {
		return err
	}
	protov2.Reset(m)
	c.malformed.Store(v, validation.DecodeError(data.Materialize(), m.ProtoReflect().Descriptor(), err))
	return nil
}

// take returns why req did not unmarshal, or nil, and forgets it.
func (c *requestCodec) take(req any) error {
	if err, ok := c.malformed.LoadAndDelete(req); ok {
		return err.(error)
	}
	return nil
}
