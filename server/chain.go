package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/auth"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/requestid"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// interceptors are what every call goes through, gRPC and HTTP alike (the
// gateway calls the services through them too): one concern each, in the
// order chain gives and explains.
type interceptors struct {
	log       *slog.Logger
	validator *validation.Validator
	guard     *guard
	codec     *requestCodec
	// reads is which reads of people and programs the audit trail records.
	reads storage.ReadAudit
	// metrics counts calls by method and code, with their latency; nil
	// counts nothing (tests of the chain alone).
	metrics *grpcprom.ServerMetrics
	// queries bounds each identity's queries at once; nil bounds none.
	queries *queryShare
	// storeFailure makes an error of the store itself failing (its file
	// damaged, its disk full, its server away) the status to give
	// (sqlstore.DB.Failure); nil leaves errors be.
	storeFailure func(context.Context, error) error
}

// chain is the unary and the stream interceptors, outermost first:
//
//  1. call place: the call's place under the calls-in-flight caps (taken
//     by capCalls, in the tap) is given back as its handler returns, before
//     its answer is written, so a client that has its answer may start
//     another call at once without passing its cap.
//  2. request id: every later concern (the log line, the reference of an
//     internal error, the audit trail) names the call by it.
//  3. log: one line per call, refused and panicking calls included, with
//     the code the client sees.
//  4. metrics: calls by method and code, and their latency, counted with
//     the code the client sees, so outside the mapping of errors.
//  5. error mapping (apperr.Status): the one place an error becomes a
//     status; an internal error is masked behind the request id, its cause
//     kept for the log.
//  6. panic recovery: a panic becomes an internal error, which 5 masks.
//  7. unread answers: an answer (a unary call's, each message of a
//     stream) is queued for its connection only within the bounds of what
//     its client has left unread there (Limits.UnsentPerConnection); past
//     them the connection is reset (queueAnswer) and the call is
//     RESOURCE_EXHAUSTED. Inside 5, which maps it, and around the handler,
//     whose answer it weighs.
//  8. request bytes (unary): the codec keeps a request's bytes undecoded
//     (requestCodec); they are taken at once, so they are forgotten even
//     for a call 9 refuses (streamed messages are decoded as they arrive,
//     by 13).
//  9. guard: a call over the calls-in-flight caps (capCalls, in the tap),
//     authentication (whether the call came with credentials, and whose,
//     decides whether its connection may be closed to make room on a full
//     listener: netlimit.Vouch), the rate limit, authorization, the actor
//     of the audit trail, and a peer's open pulls. Before validation: a caller
//     who may not call learns nothing of what a request must hold.
//  10. open methods' bounds: a request of a method open to callers
//     without credentials (auth.RequireOpen: health, reflection,
//     GetCaller) over openRequestBytes is RESOURCE_EXHAUSTED before it is
//     decoded (a stream's messages: openStream, whose RecvMsg 13's calls
//     before it decodes), and each message of such a stream after its
//     first takes a turn of its caller's rate limit, as a call does. After
//     9, which names the caller and takes the call's own turn; before 11,
//     which decodes.
//  11. decoding: the request is decoded from its bytes (8) only here,
//     once 9 has admitted its caller; one that does not unmarshal, or
//     (but for the sync protocol's) holds a number its field cannot hold,
//     is INVALID_ARGUMENT (streamed messages: in 13, as they arrive). A
//     gateway call whose body the gateway refused is answered that
//     refusal here (gatewayChannel.refuseBody).
//  12. own writes: a write (Create, Update, Delete, Undelete) of a record
//     another member owns is PERMISSION_DENIED (resource.MayWrite), before
//     13: a caller who may not write there learns nothing of what such a
//     record must hold (AIP-211).
//  13. validation: a request that breaks the schema's rules is
//     INVALID_ARGUMENT.
//  14. query share: a query (a read other than a Get) waits until its
//     caller runs fewer than Limits.QueriesPerIdentity, so one identity's
//     costly queries leave read connections and cores to the others.
//     After 9, which names the caller, and 13, so that a refused request
//     takes no turn.
//
// The deadline of a call is not here: it is set by the tap handle
// (deadlines), before the request is read.
func (ic *interceptors) chain() ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	unary := []grpc.UnaryServerInterceptor{ic.unaryCallPlace, ic.unaryRequestID, ic.unaryLog}
	stream := []grpc.StreamServerInterceptor{ic.streamCallPlace, ic.streamRequestID, ic.streamLog}
	if ic.metrics != nil {
		unary = append(unary, ic.metrics.UnaryServerInterceptor())
		stream = append(stream, unknownAsOne(ic.metrics.StreamServerInterceptor()))
	}
	unary = append(unary, ic.unaryMapErrors, ic.unaryRecover, ic.unaryUnsent, ic.unaryTakeRequest, ic.unaryGuard, ic.unaryOpenBounds, ic.unaryDecode, ic.unaryOwnWrites, ic.unaryValidate, ic.unaryQueryShare)
	stream = append(stream, ic.streamMapErrors, ic.streamRecover, ic.streamUnsent, ic.streamGuard, ic.streamOpenBounds, ic.streamValidate)
	return unary, stream
}

// unary is the unary chain as one interceptor, for the gateway, which calls
// handlers itself.
func (ic *interceptors) unary() grpc.UnaryServerInterceptor {
	chain, _ := ic.chain()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var next func(i int) grpc.UnaryHandler
		next = func(i int) grpc.UnaryHandler {
			if i == len(chain) {
				return handler
			}
			return func(ctx context.Context, req any) (any, error) { return chain[i](ctx, req, info, next(i+1)) }
		}
		return next(0)(ctx, req)
	}
}

// call is what the interceptors inside learn of a call for the log line
// outside: its caller once authenticated (guard) and the error behind a
// masked internal status (error mapping).
type call struct {
	caller string
	cause  error
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		return c
	}
	return &call{} // no log interceptor outside: noted and dropped
}

// keptRequestKey carries a unary request's bytes, undecoded, from 8 to 11.
type keptRequestKey struct{}

// keptRequest is a unary request's bytes until 11 decodes them; data is
// then dropped, so a call does not hold them while its handler runs.
type keptRequest struct{ data []byte }

// withRequestIDContext takes the caller's request id if it is sane, or
// makes one, and returns it in the response header.
func withRequestIDContext(ctx context.Context) context.Context {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(requestid.Header); len(v) > 0 && requestid.Sane(v[0]) {
			id = v[0]
		}
	}
	if id == "" {
		id = requestid.New()
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(requestid.Header, id))
	return context.WithValue(ctx, requestIDKey{}, id)
}

// logCall logs an answered call. Internal errors are logged in full (the
// cause the error mapping kept) under the reference the client was given.
func (ic *interceptors) logCall(ctx context.Context, method string, start time.Time, err error) {
	c := callOf(ctx)
	st := status.Convert(err)
	code := st.Code()
	attrs := []any{"method", method, "code", code.String(), "ms", float64(time.Since(start).Microseconds()) / 1000, "request_id", RequestID(ctx)}
	if c.caller != "" {
		attrs = append(attrs, "caller", c.caller)
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, "peer", p.Addr.String())
	}
	switch {
	case code == codes.Internal || code == codes.Unknown:
		cause := err
		if c.cause != nil {
			cause = c.cause
		}
		ic.log.Error("call failed", append(attrs, "err", cause)...)
	case code != codes.OK:
		ic.log.Info("call", append(attrs, "err", st.Message())...)
	default:
		ic.log.Debug("call", attrs...)
	}
}

// mapError is the one mapping of errors to statuses, noting the cause of
// an internal error it masks for the log.
func (ic *interceptors) mapError(ctx context.Context, err error) error {
	if ic.storeFailure != nil && err != nil {
		err = ic.storeFailure(ctx, err)
	}
	st := apperr.Status(err, RequestID(ctx))
	if st == nil {
		return nil
	}
	if st.Code() == codes.Internal {
		callOf(ctx).cause = err
	}
	return st.Err()
}

// recovered turns a panic into an error carrying the stack, for the log.
func recovered(r any) error {
	return fmt.Errorf("panic: %v\n%s", r, debug.Stack())
}

// admit runs the guard and, for an admitted call, names its actor for the
// audit trail: of its writes, and of its reads as ic.reads says. A peer's
// calls read no records for anyone's eyes (sync serves stored entries,
// sealed unless public), so they are not audited as reads.
func (ic *interceptors) admit(ctx context.Context, method string, unknown bool) (context.Context, error) {
	if overCap(ctx) {
		return ctx, errTooManyCalls()
	}
	ctx, err := ic.guard.admit(ctx, method, unknown)
	if err != nil {
		return ctx, err
	}
	id, _ := auth.FromContext(ctx)
	callOf(ctx).caller = id.String()
	reads := ic.reads
	if id.Kind == auth.KindPeer {
		reads = storage.ReadsNotAudited
	}
	return storage.WithActor(ctx, storage.Actor{Name: id.String(), RequestID: RequestID(ctx), Action: method, Reads: reads}), nil
}

// The unary chain.

func (ic *interceptors) unaryCallPlace(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	defer releaseCallPlace(ctx)
	return next(ctx, req)
}

func (ic *interceptors) unaryRequestID(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	return next(withRequestIDContext(ctx), req)
}

func (ic *interceptors) unaryLog(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx = context.WithValue(ctx, callKey{}, &call{})
	resp, err := next(ctx, req)
	ic.logCall(ctx, info.FullMethod, start, err)
	return resp, err
}

func (ic *interceptors) unaryMapErrors(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	resp, err := next(ctx, req)
	if err != nil {
		return nil, ic.mapError(ctx, err)
	}
	return resp, nil
}

func (ic *interceptors) unaryRecover(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, recovered(r)
		}
	}()
	return next(ctx, req)
}

func (ic *interceptors) unaryTakeRequest(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if data, ok := ic.codec.take(req); ok {
		ctx = context.WithValue(ctx, keptRequestKey{}, &keptRequest{data})
	}
	return next(ctx, req)
}

func (ic *interceptors) unaryGuard(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	ctx, err := ic.admit(ctx, info.FullMethod, false)
	if err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (ic *interceptors) unaryOpenBounds(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if kept, ok := ctx.Value(keptRequestKey{}).(*keptRequest); ok && ic.open(info.FullMethod) && len(kept.data) > openRequestBytes {
		n := len(kept.data)
		kept.data = nil
		return nil, errOpenRequestTooLarge(info.FullMethod, n)
	}
	return next(ctx, req)
}

func (ic *interceptors) unaryDecode(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if a, ok := ctx.Value(admissionKey{}).(*admission); ok && a.body != nil {
		return nil, a.body // a gateway call whose body was refused (refuseBody)
	}
	if m, ok := req.(proto.Message); ok {
		if kept, ok := ctx.Value(keptRequestKey{}).(*keptRequest); ok && kept.data != nil {
			data := kept.data
			kept.data = nil
			if err := decodeRequest(data, m, info.FullMethod); err != nil {
				return nil, err
			}
		}
	}
	return next(ctx, req)
}

func (ic *interceptors) unaryOwnWrites(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok && ic.guard.policy.Requirement(info.FullMethod) == auth.RequireWrite {
		if written, owner, ok := writtenOwner(m); ok {
			if err := resource.MayWrite(ic.guard.member, owner, written); err != nil {
				return nil, err
			}
		}
	}
	return next(ctx, req)
}

func (ic *interceptors) unaryValidate(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if err := checkRequest(ic.validator, m, info.FullMethod); err != nil {
			return nil, err
		}
	}
	return next(ctx, req)
}

// writtenOwner returns what a standard write names (a Create's parent, a
// Delete's or Undelete's name, the name of an Update's record) and its
// owner, when that is a member's id.
func writtenOwner(m proto.Message) (written, owner string, ok bool) {
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for _, name := range []protoreflect.Name{"parent", "name"} {
		if fd := fields.ByName(name); fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
			written = r.Get(fd).String()
			owner, ok = resource.OwnerSegment(written)
			return written, owner, ok
		}
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() || !r.Has(fd) {
			continue
		}
		if nd := fd.Message().Fields().ByName("name"); nd != nil && nd.Kind() == protoreflect.StringKind && !nd.IsList() {
			written = r.Get(fd).Message().Get(nd).String()
			owner, ok = resource.OwnerSegment(written)
			return written, owner, ok
		}
	}
	return "", "", false
}

func (ic *interceptors) unaryQueryShare(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	id, ok := auth.FromContext(ctx)
	if !ok || ic.queries == nil || !isQuery(ic.guard.policy.Requirement(info.FullMethod), info.FullMethod) {
		return next(ctx, req)
	}
	release, err := ic.queries.acquire(ctx, id.String())
	if err != nil {
		return nil, err
	}
	defer release()
	return next(ctx, req)
}

func (ic *interceptors) unaryUnsent(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	resp, err := next(ctx, req)
	if m, ok := resp.(proto.Message); ok && err == nil && !queueAnswer(ctx, proto.Size(m)) {
		return nil, errAnswersUnread()
	}
	return resp, err
}

// The stream chain.

func (ic *interceptors) streamUnsent(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return next(srv, unsentStream{ss})
}

// unsentStream queues each message within its client's unread bounds.
type unsentStream struct{ grpc.ServerStream }

func (s unsentStream) SendMsg(m any) error {
	if pm, ok := m.(proto.Message); ok && !queueAnswer(s.Context(), proto.Size(pm)) {
		return errAnswersUnread()
	}
	return s.ServerStream.SendMsg(m)
}

func (ic *interceptors) streamCallPlace(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	defer releaseCallPlace(ss.Context())
	return next(srv, ss)
}

func (ic *interceptors) streamRequestID(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return next(srv, &contextStream{ss, withRequestIDContext(ss.Context())})
}

func (ic *interceptors) streamLog(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	start := time.Now()
	ctx := context.WithValue(ss.Context(), callKey{}, &call{})
	err := next(srv, &contextStream{ss, ctx})
	ic.logCall(ctx, info.FullMethod, start, err)
	return err
}

func (ic *interceptors) streamMapErrors(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return ic.mapError(ss.Context(), next(srv, ss))
}

func (ic *interceptors) streamRecover(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
	}()
	return next(srv, ss)
}

// streamGuard admits the call and holds one of a peer's pulls (or of its
// health watches) while it streams. grpc-go hands a call of a method no service registered
// (unknownMethod, via grpc.UnknownServiceHandler) to the stream
// interceptors without a service: srv is nil.
func (ic *interceptors) streamGuard(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	ctx, err := ic.admit(ss.Context(), info.FullMethod, srv == nil)
	if err != nil {
		return err
	}
	if who, _ := auth.FromContext(ctx); who.Kind == auth.KindPeer {
		streams, limit := ic.guard.pulls, limitPulls
		if info.FullMethod != syncv1.SyncService_Pull_FullMethodName {
			streams, limit = ic.guard.peerWatches, limitPeerWatches
		}
		release, err := streams.acquire(who.String())
		if err != nil {
			ic.guard.refused(limit)
			return err
		}
		defer release()
	}
	return next(srv, &contextStream{ss, ctx})
}

func (ic *interceptors) streamOpenBounds(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if !ic.open(info.FullMethod) {
		return next(srv, ss)
	}
	return next(srv, &openStream{ServerStream: ss, guard: ic.guard, codec: ic.codec, method: info.FullMethod})
}

// openRequestBytes bounds a request of a method open to callers without
// credentials. None needs more: a health check names a service, a
// reflection request a file or a symbol, GetCaller's holds nothing.
// Unbounded, anonymous Health.Watch streams each kept a service name of
// 4 MB for as long as they stayed open: 50 held 255 MB (an outside
// review).
const openRequestBytes = 1 << 10

// open reports whether method is open to callers without credentials
// (auth.RequireOpen).
func (ic *interceptors) open(method string) bool {
	return ic.guard.policy.Requirement(method) == auth.RequireOpen
}

func errOpenRequestTooLarge(method string, n int) error {
	return apperr.ResourceExhausted("a request of %s, open to callers without credentials, holds at most %d bytes; this one holds %d", method, openRequestBytes, n)
}

// openStream is a stream of a method open to callers without credentials:
// each message is bounded by openRequestBytes, read before it is decoded,
// and each after the first takes a turn of its caller's rate limit. A
// stream is one call to the guard, and one anonymous reflection stream
// asking again and again had 8,111 answers, 201 MB, in 20 s, metered by
// nothing (an outside review).
type openStream struct {
	grpc.ServerStream
	guard    *guard
	codec    *requestCodec
	method   string
	received int
}

func (s *openStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	s.received++
	if n, ok := s.codec.keptSize(m); ok && n > openRequestBytes {
		s.codec.take(m)
		return errOpenRequestTooLarge(s.method, n)
	}
	if s.received > 1 {
		id, _ := auth.FromContext(s.Context())
		if err := s.guard.takeTurn(s.Context(), id); err != nil {
			s.codec.take(m)
			return err
		}
	}
	return nil
}

func (ic *interceptors) streamValidate(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return next(srv, &validatingStream{ServerStream: ss, validator: ic.validator, codec: ic.codec, method: info.FullMethod})
}

// unknownMethodName is the one method name under which calls of methods no
// service registered are counted.
const unknownMethodName = "/unknown/unknown"

// unknownAsOne hands next the calls of unknown methods (srv nil, see
// streamGuard) under one name: the metrics label calls by the method they
// name, and a caller who makes names up would otherwise add a series per
// name, without bound.
func unknownAsOne(next grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if srv == nil {
			info = &grpc.StreamServerInfo{FullMethod: unknownMethodName, IsClientStream: info.IsClientStream, IsServerStream: info.IsServerStream}
		}
		return next(srv, ss, info, handler)
	}
}

// contextStream is a stream with the context the interceptors so far made.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
