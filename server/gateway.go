package server

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/requestid"
	"github.com/provex/provex/internal/validation"
)

// gatewayChannel is how the HTTP gateway reaches the services: a
// grpc.ClientConnInterface that calls the same service values through the
// same interceptors as the gRPC API, in the caller's goroutine, passing a
// copy of each message. The gateway used to make a second, full gRPC call
// inside the process (HTTP/2 frames, protobuf marshalled and parsed again),
// which cost it half of gRPC's throughput.
//
// What the gRPC server's options add to a call is done here too: the call
// deadline (deadlines.within, as the server's tap) and the message size
// limit (ResourceExhausted in grpc-go's words, outside the interceptors as
// there). The request codec has nothing to catch: requests are not parsed.
// The call sees the gateway's outgoing metadata (the HTTP headers it passes
// on, Authorization among them) as incoming, and a peer without TLS, so no
// HTTP caller is taken for a peer node.
//
// grpchan's inprocgrpc does the same, and streams, but brings
// jhump/protoreflect and golang/protobuf into the module and runs each call
// in a goroutine of its own; the gateway maps no streaming method.
type gatewayChannel struct {
	// unary is the interceptor chain composed.
	unary    grpc.UnaryServerInterceptor
	calls    *deadlines
	maxBytes int
	methods  map[string]gatewayMethod
	// tracer, when tracing is on, makes each call a span under the HTTP
	// request's (otelhttp's), named as otelgrpc names a gRPC call's; the
	// call's context keeps no values of the request's, so it would have
	// none.
	tracer trace.Tracer
}

type gatewayMethod struct {
	service any
	handler grpc.MethodHandler
}

var _ grpc.ClientConnInterface = (*gatewayChannel)(nil)

func newGatewayChannel(unary grpc.UnaryServerInterceptor, calls *deadlines, maxBytes int) *gatewayChannel {
	return &gatewayChannel{unary: unary, calls: calls, maxBytes: maxBytes, methods: map[string]gatewayMethod{}}
}

// RegisterService makes g a grpc.ServiceRegistrar, for the services'
// generated Register functions. Streaming methods are not served.
func (g *gatewayChannel) RegisterService(desc *grpc.ServiceDesc, service any) {
	for _, m := range desc.Methods {
		g.methods["/"+desc.ServiceName+"/"+m.MethodName] = gatewayMethod{service, m.Handler}
	}
}

// gatewayPeer is the peer of a gateway call: the HTTP client's address
// (logs name it, rate limits count anonymous callers by it), no TLS, so no
// HTTP caller is taken for a member's node. It is not the address of a
// connection the gRPC listener holds, which the limits on connections and
// unread answers would act on: the HTTP chain bounds those of its own.
// Made once per HTTP connection (withGatewayPeer), not per request.
func gatewayPeer(ctx context.Context) *peer.Peer {
	if p, ok := ctx.Value(gatewayPeerKey{}).(*peer.Peer); ok {
		return p
	}
	return anyGatewayPeer
}

type gatewayPeerKey struct{}

var anyGatewayPeer = &peer.Peer{Addr: gatewayAddr{}}

// withGatewayPeer is an http.Server's ConnContext: the requests of c carry
// its client's address as their gateway calls' peer.
func withGatewayPeer(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, gatewayPeerKey{}, &peer.Peer{Addr: gatewayAddr{conn: c.RemoteAddr()}})
}

// gatewayAddr is the address of an HTTP request's connection, as the HTTP
// listener gave it (netlimit.Vouch takes it; through TLS too, whose
// RemoteAddr is its inner connection's).
type gatewayAddr struct{ conn net.Addr }

func (gatewayAddr) Network() string { return "gateway" }
func (a gatewayAddr) String() string {
	if a.conn == nil {
		return "gateway"
	}
	return a.conn.String()
}

var _ net.Addr = gatewayAddr{}

// Invoke calls method as the gRPC server would, on ctx's deadline and
// cancellation but none of its values: what the call knows of its caller
// comes from the metadata, as over gRPC.
func (g *gatewayChannel) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	in, inOK := req.(proto.Message)
	out, outOK := reply.(proto.Message)
	if !inOK || !outOK {
		return apperr.Unimplemented("the gateway does not serve %s", method)
	}
	var header, trailer metadata.MD
	r, err := g.call(ctx, method, in, &header, &trailer)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = trailer
		}
	}
	if err != nil {
		return err
	}
	proto.Reset(out)
	proto.Merge(out, r)
	return nil
}

// call is Invoke answering the service's own response message, which the
// caller only reads (fastGet marshals it), and the header and trailer the
// call set.
func (g *gatewayChannel) call(ctx context.Context, method string, in proto.Message, header, trailer *metadata.MD) (_ proto.Message, err error) {
	m, ok := g.methods[method]
	if !ok {
		return nil, apperr.Unimplemented("the gateway does not serve %s", method)
	}
	// The gateway copies path and query parameters in as they come: text
	// that is not UTF-8 would not have marshalled over gRPC, and here
	// would reach the services.
	if err := validation.WellFormed(in); err != nil {
		return nil, err
	}
	if size := proto.Size(in); size > g.maxBytes {
		return nil, apperr.ResourceExhausted("grpc: received message larger than max (%d vs. %d)", size, g.maxBytes)
	}
	c := &gatewayCall{method: method}
	sctx := serverContext(ctx)
	if a, ok := ctx.Value(admissionKey{}).(*admission); ok && a.method == method {
		sctx = context.WithValue(sctx, admissionKey{}, a)
	}
	sctx = grpc.NewContextWithServerTransportStream(sctx, c)
	sctx, cancel := g.calls.within(sctx, method)
	defer cancel()
	if g.tracer != nil {
		var span trace.Span
		sctx, span = g.tracer.Start(trace.ContextWithSpanContext(sctx, trace.SpanContextFromContext(ctx)), method[1:], trace.WithSpanKind(trace.SpanKindServer))
		defer func(err *error) {
			if *err != nil {
				span.SetStatus(otelcodes.Error, status.Convert(*err).Message())
			}
			span.End()
		}(&err)
	}
	resp, err := m.handler(m.service, sctx, func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}, g.unary)
	*header, *trailer = c.header, c.trailer
	if err != nil {
		return nil, err
	}
	r, ok := resp.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%s answered %T", method, resp)
	}
	if size := proto.Size(r); size > g.maxBytes {
		return nil, apperr.ResourceExhausted("trying to send message larger than max (%d vs. %d)", size, g.maxBytes)
	}
	return r, nil
}

// serverContext is what a gateway call's handler and interceptors see of
// ctx, the gateway's: its deadline and cancellation, the gateway's
// outgoing metadata as incoming, and the HTTP client's address as the peer.
func serverContext(ctx context.Context) context.Context {
	// A copy of the gateway's metadata, which the call may change.
	md, _ := metadata.FromOutgoingContext(ctx)
	if md == nil {
		md = metadata.MD{}
	}
	// The HTTP request's id, replacing any the caller smuggled in as
	// Grpc-Metadata-X-Request-Id.
	if id := RequestID(ctx); id != "" {
		md.Set(requestid.Header, id)
	}
	return peer.NewContext(metadata.NewIncomingContext(withoutValues{ctx}, md), gatewayPeer(ctx))
}

// admission is the guard's verdict on a gateway call (its caller's
// identity, or why it is refused), reached from the call's HTTP headers
// before grpc-gateway reads its body (admitBeforeBody), and taken by the
// chain's guard in place of deciding again. grpc-gateway decodes a body
// before it calls, and what a body costs to decode is not its size
// (requestCodec says how much more): a caller without a token had the
// node decode 4 MB bodies of empty elements, 2.5 s of CPU and 240 MB
// each, to be told 401.
type admission struct {
	method string
	id     auth.Identity
	err    error
	// body, of a call admitted, is why its body was refused (refuseBody),
	// which the chain's decoding answers in place of decoding.
	body error
}

type admissionKey struct{}

// admitBeforeBody is the gateway's middleware that admits each call its
// route names (gatewayRoutes) before the call's handler reads the body:
// the guard authenticates the caller from the headers, takes its rate and
// authorizes it, as it does every call. A call it admits goes on with the
// verdict; one it refuses is still carried out through the interceptors,
// with an empty request, so that it has its log line, its count and its
// status as any other call, the guard answering it with the verdict
// before the request is looked at. annotate makes the context the route's
// handler would (runtime.AnnotateContext on the gateway's mux); write
// answers an error.
func (g *gatewayChannel) admitBeforeBody(guard *guard, annotate func(*http.Request, string) (context.Context, error), write func(http.ResponseWriter, *http.Request, error)) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			route, ok := routeOf(r)
			if !ok {
				next(w, r, params)
				return
			}
			ctx, err := annotate(r, route.method)
			if err != nil {
				// The handler fails on it too, before it reads the body.
				next(w, r, params)
				return
			}
			a := &admission{method: route.method}
			var admitted context.Context
			admitted, a.err = guard.admit(serverContext(ctx), route.method, false)
			a.id, _ = auth.FromContext(admitted)
			if a.err == nil {
				next(w, r.WithContext(context.WithValue(r.Context(), admissionKey{}, a)), params)
				return
			}
			var header, trailer metadata.MD
			_, err = g.call(context.WithValue(ctx, admissionKey{}, a), route.method, route.request.New().Interface(), &header, &trailer)
			if err == nil {
				err = fmt.Errorf("the gateway carried out %s, which its guard refused: %w", route.method, a.err)
			}
			write(w, r, err)
		}
	}
}

// refuseBody carries out the call of r, admitted before its body was read
// (admitBeforeBody), whose body was refused for err (not JSON of its
// request, over the limit, cut off, not arrived in time), through the
// interceptors with an empty request: the guard admits it again and the
// chain's decoding answers err, so that it has its log line, its count
// and its status as any call whose request does not decode over gRPC
// (the gateway answered such a body before any interceptor ran, neither
// logged nor counted: an outside review). A call not admitted before its
// body is answered err as it is.
func (g *gatewayChannel) refuseBody(ctx context.Context, r *http.Request, err error) error {
	a, admitted := r.Context().Value(admissionKey{}).(*admission)
	route, routed := routeOf(r)
	if !admitted || !routed || a.method != route.method || a.err != nil {
		return err
	}
	// Not on ctx's cancellation: net/http cancels a request whose
	// connection failed a read, as one whose body did not arrive did,
	// and the refusal costs the node nothing.
	ctx = context.WithValue(context.WithoutCancel(ctx), admissionKey{}, &admission{method: a.method, id: a.id, body: err})
	var header, trailer metadata.MD
	if _, cerr := g.call(ctx, route.method, route.request.New().Interface(), &header, &trailer); cerr != nil {
		return cerr
	}
	return fmt.Errorf("the gateway carried out %s, whose body it refused: %w", route.method, err)
}

// NewStream refuses: the gateway maps no streaming method.
func (g *gatewayChannel) NewStream(_ context.Context, _ *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, apperr.Unimplemented("the gateway does not serve %s", method)
}

// gatewayCall is the grpc.ServerTransportStream of one gateway call: it
// keeps what the call sets with grpc.SetHeader and grpc.SetTrailer for the
// gateway (grpc.Header and grpc.Trailer call options).
type gatewayCall struct {
	method          string
	header, trailer metadata.MD
}

func (c *gatewayCall) Method() string { return c.method }

func (c *gatewayCall) SetHeader(md metadata.MD) error {
	c.header = metadata.Join(c.header, md)
	return nil
}

func (c *gatewayCall) SendHeader(md metadata.MD) error { return c.SetHeader(md) }

func (c *gatewayCall) SetTrailer(md metadata.MD) error {
	c.trailer = metadata.Join(c.trailer, md)
	return nil
}

// withoutValues is a context with another's deadline and cancellation and
// none of its values, so the services see no more of an HTTP request than
// of a gRPC call.
type withoutValues struct{ context.Context }

func (withoutValues) Value(any) any { return nil }

// AfterFunc lets the contexts derived from c (the call's deadline) follow
// its cancellation without a goroutine each, which the context package
// starts for a parent it does not recognise.
func (c withoutValues) AfterFunc(f func()) func() bool { return context.AfterFunc(c.Context, f) }
