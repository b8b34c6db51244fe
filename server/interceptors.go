package server

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/proto"

	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/validation"
)

type requestIDKey struct{}

// RequestID returns the request id of a call being served: the caller's,
// in requestid.Header, if it is sane, else one the node made.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// deadlines bound every call in time from its first frame: the tap gives
// the stream its deadline as grpc-go creates it, before any message is
// read. Interceptors run too late for that: grpc-go reads a unary request
// before it calls them, and a stream's messages are read on the stream's own
// context, not on one an interceptor derives. So a request message sent
// slowly, or never finished, ends with DEADLINE_EXCEEDED like a slow
// handler does, instead of holding its stream until the connection goes.
type deadlines struct {
	call, stream time.Duration
	// streaming holds the full names of the methods that stream. It is
	// filled from the servers after registration and before they serve, and
	// only read from then on.
	streaming map[string]bool
}

// learn notes which of g's registered methods stream.
func (d *deadlines) learn(g interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}) {
	for service, info := range g.GetServiceInfo() {
		for _, m := range info.Methods {
			if m.IsClientStream || m.IsServerStream {
				d.streaming["/"+service+"/"+m.Name] = true
			}
		}
	}
}

// tap is the grpc.InTapHandle: StreamTimeout for a streaming method,
// CallTimeout for any other (an unknown method is refused at once anyway).
// A deadline the caller set that is sooner stays.
func (d *deadlines) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	// grpc-go cancels the stream's context when the stream ends, which
	// stops this timer too.
	ctx, cancel := d.within(ctx, info.FullMethodName)
	_ = cancel
	return ctx, nil
}

// within is ctx with the deadline of a call of method (see tap).
func (d *deadlines) within(ctx context.Context, method string) (context.Context, context.CancelFunc) {
	timeout := d.call
	if d.streaming[method] {
		timeout = d.stream
	}
	return context.WithTimeout(ctx, timeout)
}

// validatingStream decodes every message a client streams in (the stream
// runs inside the guard: requestCodec) and refuses one that does not
// unmarshal or breaks the schema's rules.
type validatingStream struct {
	grpc.ServerStream
	validator *validation.Validator
	codec     *requestCodec
	method    string
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := s.codec.decode(m, s.method); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return checkRequest(s.validator, pm, s.method)
	}
	return nil
}

// unknownMethod is the grpc.UnknownServiceHandler of the node's servers.
// Without one grpc-go answers a method it does not serve UNIMPLEMENTED
// before any interceptor runs: no request id, no log line. With it the call
// passes the stream interceptors like any other, and the guard answers it
// UNIMPLEMENTED after authentication and the rate limit (guard.admit), so
// this handler is reached only if that changes.
func unknownMethod(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	return apperr.Unimplemented("unknown method %s", method)
}

// syncMethods begins the full name of every method of the sync protocol.
var syncMethods = "/" + syncv1.SyncService_ServiceDesc.ServiceName + "/"

// strictSchema reports whether method's requests are held to their
// schema: every field known (checkRequest), every number one its field
// holds (decodeRequest). The sync protocol's are not: nodes of different
// releases sync, and a newer node's request field (or a field widened
// from 32 bits to 64) is for an older one to ignore, or to cut, as
// protobuf intends; a field unknown to a request of the API, or a number
// cut to another, would be stored with its record.
func strictSchema(method string) bool {
	return !strings.HasPrefix(method, syncMethods)
}

// checkRequest validates a request against the schema's rules and, in one
// held to its schema (strictSchema), refuses a field the schema does not
// have.
func checkRequest(v *validation.Validator, m proto.Message, method string) error {
	if strictSchema(method) {
		if err := validation.KnownFields(m); err != nil {
			return err
		}
	}
	return v.Check(m, "")
}
