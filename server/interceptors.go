package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/storage"
)

// RequestIDHeader carries the id that ties one exchange together across
// nodes and logs. A caller may send its own; otherwise the server makes one.
// It is returned in the response header either way.
const RequestIDHeader = "x-request-id"

type requestIDKey struct{}

// RequestID returns the request id of a call being served.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// saneRequestID reports whether a caller's request id may be used as it is:
// 1 to 64 printable ASCII characters, so it fits a header and a log line
// and cannot forge one.
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '!' || id[i] > '~' {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// interceptors holds what every call goes through, gRPC and HTTP alike (the
// gateway calls the gRPC server): request id, logging, panic recovery,
// authentication, rate limits and authorization (guard), requests that did
// not unmarshal (codec), schema validation and the one mapping of errors to
// statuses.
type interceptors struct {
	log       *slog.Logger
	validator *validation.Validator
	guard     *guard
	codec     *requestCodec
	// reads is which reads of people and programs the audit trail records.
	reads storage.ReadAudit
}

// admit runs the guard and, for an admitted call, names its actor for the
// audit trail: of its writes, and of its reads as ic.reads says. A peer's
// calls read no records for anyone's eyes (sync serves stored entries,
// sealed unless public), so they are not audited as reads.
func (ic *interceptors) admit(ctx context.Context, method, requestID string, unknown bool) (context.Context, error) {
	ctx, err := ic.guard.admit(ctx, method, unknown)
	if err != nil {
		return ctx, err
	}
	id, _ := auth.FromContext(ctx)
	reads := ic.reads
	if id.Kind == auth.KindPeer {
		reads = storage.ReadsNotAudited
	}
	return storage.WithActor(ctx, storage.Actor{Name: id.String(), RequestID: requestID, Action: method, Reads: reads}), nil
}

func (ic *interceptors) begin(ctx context.Context) (context.Context, string) {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(RequestIDHeader); len(v) > 0 && saneRequestID(v[0]) {
			id = v[0]
		}
	}
	if id == "" {
		id = newRequestID()
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
	return context.WithValue(ctx, requestIDKey{}, id), id
}

// finish maps err to the status the client sees and logs the call. Internal
// errors are logged in full and reach the client only as a reference.
func (ic *interceptors) finish(ctx context.Context, method, id string, start time.Time, err error) error {
	st := apperr.Status(err, id)
	code := codes.OK
	if st != nil {
		code = st.Code()
	}
	attrs := []any{"method", method, "code", code.String(), "ms", float64(time.Since(start).Microseconds()) / 1000, "request_id", id}
	if who, ok := auth.FromContext(ctx); ok {
		attrs = append(attrs, "caller", who.String())
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, "peer", p.Addr.String())
	}
	switch {
	case code == codes.Internal || code == codes.Unknown:
		ic.log.Error("call failed", append(attrs, "err", err)...)
	case code != codes.OK:
		ic.log.Info("call", append(attrs, "err", st.Message())...)
	default:
		ic.log.Debug("call", attrs...)
	}
	if st == nil {
		return nil
	}
	return st.Err()
}

// recovered turns a panic into an error carrying the stack, for the log.
func recovered(r any) error {
	return fmt.Errorf("panic: %v\n%s", r, debug.Stack())
}

func (ic *interceptors) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	ctx, id := ic.begin(ctx)
	malformed := ic.codec.take(req)
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, recovered(r)
		}
		err = ic.finish(ctx, info.FullMethod, id, start, err)
	}()
	if ctx, err = ic.admit(ctx, info.FullMethod, id, false); err != nil {
		return nil, err
	}
	if malformed != nil {
		return nil, malformed
	}
	if m, ok := req.(proto.Message); ok {
		if err := ic.validator.Check(m, ""); err != nil {
			return nil, err
		}
	}
	return handler(ctx, req)
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

// validatingStream refuses every message a client streams in that did not
// unmarshal or breaks the schema's rules.
type validatingStream struct {
	grpc.ServerStream
	ctx       context.Context
	validator *validation.Validator
	codec     *requestCodec
}

func (s *validatingStream) Context() context.Context { return s.ctx }

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := s.codec.take(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return s.validator.Check(pm, "")
	}
	return nil
}

func (ic *interceptors) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	ctx, id := ic.begin(ss.Context())
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
		err = ic.finish(ctx, info.FullMethod, id, start, err)
	}()
	// grpc-go hands a call of a method no service registered
	// (unknownMethod, via grpc.UnknownServiceHandler) to the stream
	// interceptors without a service: srv is nil.
	if ctx, err = ic.admit(ctx, info.FullMethod, id, srv == nil); err != nil {
		return err
	}
	if who, _ := auth.FromContext(ctx); who.Kind == auth.KindPeer {
		release, err := ic.guard.pulls.acquire(who.String())
		if err != nil {
			return err
		}
		defer release()
	}
	return handler(srv, &validatingStream{ServerStream: ss, ctx: ctx, validator: ic.validator, codec: ic.codec})
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
