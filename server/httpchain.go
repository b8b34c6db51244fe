package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/netlimit"
	"github.com/provex/provex/internal/requestid"
)

// httpChain is what every HTTP request passes through before its route, in
// this order, each one concern.
func (e *httpErrors) httpChain(routes http.Handler, maxBody int, calls *netlimit.Caps, unsent *netlimit.Unsent) http.Handler {
	return chain(routes,
		withRequestID,         // every response names its request, before anything can fail
		noSniff,               // no response is taken for another type than it says
		e.recoverPanics,       // a panic is a 500 with a reference the log has
		touchHTTPConnection,   // a request begins on its connection (netlimit.Touch)
		e.capCalls(calls),     // requests in flight over a cap are 429
		e.limitBody(maxBody),  // bodies over the limit are 413
		e.boundUnsent(unsent), // answers left unread past a bound are 429, or cut off
		e.noBodyUnread,        // a body no route reads is refused, not dropped
		e.queryParses,         // a query pair that does not parse is refused, not dropped
		e.noEmptyEtag,         // ?etag= with no value is refused, not taken as no condition
		e.noHTTPPreconditions, // If-Match on a write is refused, not dropped
	)
}

// noSniff tells browsers to take every response as the type it says: an
// error's JSON body may echo the path, and /healthz's text a peer's words.
func noSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// touchHTTPConnection marks the connection a request begins on as the last of
// its network to be closed to make room on a full listener, and as one
// that may be until the request's credentials are found valid
// (netlimit.Touch): each request, not only the first of those in flight
// on an HTTP/2 connection, and whether or not it reaches the guard.
func touchHTTPConnection(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := gatewayPeer(r.Context()).Addr.(gatewayAddr); ok {
			netlimit.Touch(a.conn)
		}
		next.ServeHTTP(w, r)
	})
}

// queryParses refuses a request whose query holds a pair that does not
// parse (a semicolon, a bad %-escape), naming its parameter: Go's query
// parser drops such a pair, so summary.csv summarised without the filter
// it was given (?filter=kind%3DKIND_ODA;x: every project, 200 OK), and
// the gateway refused it in words that named no field.
func (e *httpErrors) queryParses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for raw := r.URL.RawQuery; raw != ""; {
			var pair string
			pair, raw, _ = strings.Cut(raw, "&")
			if _, err := url.ParseQuery(pair); err != nil {
				key, _, _ := strings.Cut(pair, "=")
				if name, err := url.QueryUnescape(key); err == nil {
					key = name
				}
				e.write(w, r, apperr.Invalid(strings.ToValidUTF8(key, "\uFFFD"), "%v (separate parameters with &, and write ; and %% in a value as %%3B and %%25)", err))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// noEmptyEtag refuses an etag query parameter without a value: a script's
// ?etag=$ETAG with the variable unset made a conditional delete
// unconditional (an outside review). Leaving the parameter out still asks
// for no condition.
func (e *httpErrors) noEmptyEtag(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			if v, ok := r.URL.Query()["etag"]; ok && slices.Contains(v, "") {
				e.write(w, r, apperr.Invalid("etag", "is empty: give the record's etag, or leave the parameter out for no condition"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// httpPreconditions are the headers with which HTTP makes a write
// conditional (RFC 9110, 13.1); the gateway passes none on.
var httpPreconditions = []string{"If-Match", "If-None-Match", "If-Unmodified-Since"}

// noHTTPPreconditions refuses a write that carries an HTTP precondition,
// naming the header: dropped unseen, If-Match made a client's conditional
// PATCH or DELETE unconditional (an outside review). The condition is the
// record's etag, in the body or ?etag=. A read is answered whole, which a
// precondition on it allows.
func (e *httpErrors) noHTTPPreconditions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			for _, h := range httpPreconditions {
				if _, ok := r.Header[h]; ok {
					e.write(w, r, apperr.Invalid(h, "is not honoured: give the record's etag in the body's etag field (a PATCH, an :undelete) or as ?etag= (a DELETE), or leave both out for no condition"))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// noBodyUnread refuses a GET, HEAD or DELETE that sends a body: no route of
// those methods reads one, and dropped unseen, a DELETE's {"etag": ...}
// made a conditional delete unconditional.
func (e *httpErrors) noBodyUnread(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodDelete:
			sent := r.ContentLength > 0
			if r.ContentLength < 0 { // streamed: it may yet be empty
				var one [1]byte
				n, _ := io.ReadFull(r.Body, one[:])
				sent = n > 0
			}
			if sent {
				e.write(w, r, apperr.Invalid("body", "a %s takes no body: give its fields as query parameters (?field=value)", r.Method))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// capCalls counts each request in calls until it is answered, and refuses
// one over a cap (Limits.Calls, CallsPerAddress): over HTTP/2 a client
// holds 250 requests on each connection, each a goroutine reading a body
// that may never come, from its headers on. nil counts nothing.
func (e *httpErrors) capCalls(calls *netlimit.Caps) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if calls == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			client := netlimit.ClientAt(r.RemoteAddr)
			if !calls.Acquire(client) {
				if r.ProtoMajor == 2 {
					// Headers alone, which HTTP/2 does not hold back
					// for the flow-control window: a body would wait
					// on a window the client keeps shut, holding this
					// goroutine, uncounted, as below.
					setRetryAfter(w, apperr.Status(errTooManyCalls(), ""))
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				e.write(w, r, errTooManyCalls())
				return
			}
			defer calls.Release(client)
			next.ServeHTTP(w, r)
			if r.ProtoMajor == 2 {
				// The answer is written within its place: net/http's
				// HTTP/2 server writes what the handler left buffered
				// after it returns, waiting on the client's flow-control
				// window for as long as the write timeout; a client that
				// kept its window shut held a goroutine a request that
				// way, uncounted (64,000 from one address with no token,
				// in an outside review). Over HTTP/1 the client has one
				// request at a time on a connection, and what is left
				// fits the socket's buffer.
				http.NewResponseController(w).Flush()
			}
		})
	}
}

// boundUnsent counts the bytes of each write of an answer under unsent,
// by client, until the write returns: net/http returns once the
// connection has taken them (HTTP/1.1), or its HTTP/2 server's small
// buffers, which wait for the client's flow-control window. A client that
// does not read kept every answer it asked for in memory, each for as long
// as the write timeout: one viewer's token from one address grew a node
// by 2 GB (an outside review), over HTTP/1.1 with small receive buffers
// and over HTTP/2 with a shut window, bounded only by the calls and
// connections caps. A write past a bound is refused: an answer of which
// nothing is sent yet is a 429 instead; one begun is cut off
// (http.ErrAbortHandler: the HTTP/1.1 connection closed, the HTTP/2
// stream reset), as a gRPC connection is reset (queueAnswer). nil counts
// nothing. It comes after limitBody: http.MaxBytesReader has net/http
// close the connection after a body over the limit only through
// net/http's own ResponseWriter, not one wrapping it.
func (e *httpErrors) boundUnsent(unsent *netlimit.Unsent) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if unsent == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bw := &boundedWriter{ResponseWriter: w, unsent: unsent, client: netlimit.ClientAt(r.RemoteAddr), chainHeader: w.Header().Clone(),
				refuse: func() { e.write(w, r, errHTTPAnswersUnread()) }}
			next.ServeHTTP(bw, r)
			bw.begin() // a status set with nothing written
		})
	}
}

// errHTTPAnswersUnread is the answer to a request whose answer would pass
// the bounds of what its client has left unread (boundUnsent).
func errHTTPAnswersUnread() error {
	return apperr.ResourceExhausted("answers to earlier requests wait unread, from this client or from all of this node's clients, as many bytes as the node holds for them; read them before asking for more").RetryAfter(time.Second)
}

// errAnswerRefused is what a handler's write returns once boundUnsent has
// answered 429 in place of its answer: the handler has nothing more to
// write (summary.csv took it for an answer cut off, and aborted the 429
// unsent: a review).
var errAnswerRefused = errors.New("the answer was refused, a 429 written in its place: its client has left too much unread")

// boundedWriter is the ResponseWriter of an answer under boundUnsent. It
// holds back the status the handler sets until the answer's first byte
// may be written: grpc-gateway sets an error's status before its body,
// and an answer refused at its first byte can still be a 429 then.
type boundedWriter struct {
	http.ResponseWriter
	unsent *netlimit.Unsent
	client netip.Addr
	// chainHeader is the headers the chain set before the handler, the
	// only ones of the 429 that replaces an answer (not its
	// Content-Length).
	chainHeader http.Header
	refuse      func() // answers the 429
	status      int    // the handler's, not yet passed on
	begun       bool   // the status is passed on
	refused     bool   // the answer is the 429
}

func (w *boundedWriter) WriteHeader(code int) {
	switch {
	case w.begun, code >= 100 && code < 200 && code != http.StatusSwitchingProtocols:
		w.ResponseWriter.WriteHeader(code) // net/http sends or refuses it, as without the bound
	case w.status == 0:
		w.status = code
	}
}

// begin passes on the status, unless the answer is refused.
func (w *boundedWriter) begin() {
	if w.begun || w.refused {
		return
	}
	w.begun = true
	if w.status != 0 {
		w.ResponseWriter.WriteHeader(w.status)
	}
}

func (w *boundedWriter) Write(b []byte) (int, error) {
	if w.refused {
		return 0, errAnswerRefused
	}
	n := int64(len(b))
	if !w.unsent.Hold(w.client, n) {
		if w.begun {
			// Its status sent, the answer can only end incomplete.
			panic(http.ErrAbortHandler)
		}
		w.refused = true
		header := w.ResponseWriter.Header()
		clear(header)
		maps.Copy(header, w.chainHeader)
		w.refuse()
		return 0, errAnswerRefused
	}
	defer w.unsent.GiveBack(w.client, n)
	w.begin()
	return w.ResponseWriter.Write(b)
}

// Flush passes on the status first (http.Flusher, which grpc-gateway's
// streams and http.ResponseController ask for).
func (w *boundedWriter) Flush() {
	if w.refused {
		return
	}
	w.begin()
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap is the ResponseWriter under w, for http.ResponseController's
// other methods (deadlines).
func (w *boundedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// chain wraps h in middleware, the first outermost.
func chain(h http.Handler, middleware ...func(http.Handler) http.Handler) http.Handler {
	for i := len(middleware) - 1; i >= 0; i-- {
		h = middleware[i](h)
	}
	return h
}

// withRequestID takes the caller's X-Request-Id if it is sane, or makes one,
// and sets it on the response at once, so 404s, 413s and 500s carry it too.
// The gateway passes it on to the services' call (gatewayChannel), whose
// interceptors log the call under it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestid.Header)
		if !requestid.Sane(id) {
			id = requestid.New()
		}
		w.Header().Set(requestid.Header, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func (e *httpErrors) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				e.write(w, r, recovered(p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a body declared larger than limit before reading it, and
// cuts off one that streams past it (limitedBody tells the error handler).
func (e *httpErrors) limitBody(limit int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > int64(limit) {
				e.write(w, r, errTooLarge(limit))
				return
			}
			r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, int64(limit)), limit: limit, readTimeout: e.readTimeout}
			next.ServeHTTP(w, r)
		})
	}
}

// limitedBody remembers that the body went past the limit: the gateway turns
// the read error into INVALID_ARGUMENT, which must be 413 instead.
type limitedBody struct {
	io.ReadCloser
	limit    int
	exceeded bool
	// readErr is the error of a read that failed before the body's end
	// (a body that did not arrive within readTimeout, a connection
	// broken off), in Go's words, which name the node's socket: the
	// decoder tells the caller why in its own (unread).
	readErr     error
	readTimeout time.Duration
	// invalid is why the JSON body did not decode, naming the field
	// (bodyJSON), where the gateway's own error names none.
	invalid error
	// pathParams are the route's path parameters (pathToBody), which the
	// gateway writes over the same fields of the decoded body.
	pathParams map[string]string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.exceeded = true
	} else if err != nil && err != io.EOF {
		b.readErr = err
	}
	return n, err
}

// unread is why the body could not be read to its end (readErr), in
// words for the caller: a body that did not arrive in time is
// DEADLINE_EXCEEDED, 408, as HTTP says of a request not sent in time (the
// gateway answered INVALID_ARGUMENT, "read tcp 127.0.0.1:28672->...: i/o
// timeout": an outside review).
func (b *limitedBody) unread() error {
	if errors.Is(b.readErr, os.ErrDeadlineExceeded) {
		within := "within the time the node gives a request to be read"
		if b.readTimeout > 0 {
			within = fmt.Sprintf("within %v, the time the node gives a request to be read", b.readTimeout)
		}
		return &runtime.HTTPStatusError{
			HTTPStatus: http.StatusRequestTimeout,
			Err:        apperr.DeadlineExceeded("the request body did not arrive %s; send it at once", within),
		}
	}
	return apperr.Invalid("body", "could not be read to its end: the connection broke off before it did")
}

// only lets method (and HEAD, for GET) through to h; other methods are 405.
func (e *httpErrors) only(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && (method != http.MethodGet || r.Method != http.MethodHead) {
			w.Header().Set("Allow", method)
			e.routing(r.Context(), e.mux, e.marshaler, w, r, http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// httpErrors writes every HTTP error of the node, the gateway's and the
// middleware's alike, in the gateway's JSON format (a google.rpc.Status)
// and through the one mapping apperr.Status: an internal error reaches the
// client as a reference, its request id, under which it is logged here
// unless the gRPC server masked and logged it already.
type httpErrors struct {
	log       *slog.Logger
	mux       *runtime.ServeMux
	marshaler runtime.Marshaler
	// admit is the gateway's middleware that admits a call before its
	// body is read (gatewayChannel.admitBeforeBody); nil admits in the
	// chain alone.
	admit runtime.Middleware
	// refuseBody carries out a call admitted whose body is refused, for
	// its log line and count (gatewayChannel.refuseBody); nil answers it
	// unlogged.
	refuseBody func(context.Context, *http.Request, error) error
	// readTimeout is the HTTP server's (Limits.ReadTimeout), which a body
	// that does not arrive is told of.
	readTimeout time.Duration
}

// newMux is a gateway mux whose errors e writes, whose routing errors
// routing answers.
func (e *httpErrors) newMux(routing runtime.RoutingErrorHandlerFunc) *runtime.ServeMux {
	useStrictQuery()
	return runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, e.marshaler),
		runtime.WithErrorHandler(e.handle),
		runtime.WithRoutingErrorHandler(routing),
		runtime.WithMiddlewares(e.middlewares()...),
		// A form-encoded POST is a POST: grpc-gateway would serve it as
		// the method its X-HTTP-Method-Override header names, or as a GET
		// of its path, reading its body as the query, which the chain's
		// checks of methods and queries never see (an empty etag made a
		// DELETE unconditional; unknown parameters were dropped unseen).
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
		// The HTTP chain sets X-Request-Id (withRequestID) and gatewayCall
		// sends it to the gRPC server; no other gRPC metadata is an HTTP
		// header.
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		// No HTTP header is gRPC metadata either: the chain reads only
		// authorization, which grpc-gateway passes on whatever the
		// matcher says, and x-request-id, which gatewayChannel sets from
		// the HTTP chain's; the gateway takes Grpc-Timeout itself. The
		// default matcher passed on every permanent header (Cookie,
		// User-Agent, ...) as grpcgateway-*, unread, and logged a line
		// for each value of one that is not ASCII: 5000 lines for one
		// request without a token (an outside review).
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
	)
}

// middlewares are the gateway's, outermost first: a probe of a route is
// answered before anything else, a query the route does not read is
// refused before its caller is admitted, as a bad query is (strictQuery),
// and the body is read after both.
func (e *httpErrors) middlewares() []runtime.Middleware {
	out := []runtime.Middleware{probeRoute, e.queryUnread}
	if e.admit != nil {
		out = append(out, e.admit)
	}
	return append(out, pathToBody)
}

// write answers err to r.
func (e *httpErrors) write(w http.ResponseWriter, r *http.Request, err error) {
	e.handle(r.Context(), e.mux, e.marshaler, w, r, err)
}

// handle is the gateway's error handler (runtime.WithErrorHandler).
func (e *httpErrors) handle(ctx context.Context, mux *runtime.ServeMux, marshaler runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	bodyRefused := true
	if b, ok := r.Body.(*limitedBody); ok && b.exceeded {
		err = errTooLarge(b.limit)
	} else if ok && b.invalid != nil {
		err = b.invalid
	} else {
		bodyRefused = false
	}
	httpStatus := 0
	var withStatus *runtime.HTTPStatusError
	if errors.As(err, &withStatus) {
		httpStatus, err = withStatus.HTTPStatus, withStatus.Err
	}
	if bodyRefused && e.refuseBody != nil {
		// Refused before the gateway called the service: the call is
		// still logged and counted under its method, as one whose
		// request does not decode is over gRPC.
		err = e.refuseBody(ctx, r, err)
	}
	err = namedQueryError(err)
	id := RequestID(r.Context())
	st := apperr.Status(err, id)
	if st.Code() != codes.Internal && !utf8.ValidString(st.Message()) {
		// The gateway quotes what it could not parse, which may be what is
		// not UTF-8; JSON cannot carry that.
		p := st.Proto()
		p.Message = strings.ToValidUTF8(p.Message, "\uFFFD")
		st = status.FromProto(p)
	}
	if _, merr := marshaler.Marshal(st.Proto()); merr != nil {
		err, st, httpStatus = fmt.Errorf("marshal the error %v: %w", st, merr), apperr.Status(merr, id), 0
	}
	if st.Code() == codes.Internal && !apperr.Masked(err) {
		e.log.Error("HTTP request failed", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
	}
	setRetryAfter(w, st)
	err = st.Err()
	if httpStatus != 0 {
		err = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, marshaler, w, r, err)
}

// setRetryAfter gives an answer whose status asks the caller to wait
// (google.rpc.RetryInfo) the Retry-After header HTTP clients read: whole
// seconds, rounded up.
func setRetryAfter(w http.ResponseWriter, st *status.Status) {
	if d := apperr.RetryDelay(st); d > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
}

// routing is the gateway's routing error handler: no route is NOT_FOUND,
// a route without the method 405, with Allow.
func (e *httpErrors) routing(ctx context.Context, mux *runtime.ServeMux, marshaler runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if _, probing := r.Context().Value(routeProbeKey{}).(*routeProbe); probing {
		return // the method is not served at the path: nothing to write
	}
	var err error
	switch path := strings.ToValidUTF8(r.URL.Path, "\uFFFD"); httpStatus {
	case http.StatusNotFound:
		err = apperr.NotFound("no method or resource at %q; see /openapi.json", path)
	case http.StatusMethodNotAllowed:
		if allowed := e.allowed(r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		err = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: apperr.Unimplemented("%s is not allowed on %q", r.Method, path)}
	case http.StatusBadRequest:
		err = apperr.Invalid("path", "%q is not a path", path)
	default:
		err = fmt.Errorf("unexpected routing error %d for %s %q", httpStatus, r.Method, path)
	}
	e.handle(ctx, mux, marshaler, w, r, err)
}

// routeProbe asks the gateway whether it serves a method at a path: the
// gateway tells its routing error handler only the status, and keeps its
// routes to itself. A probe is a copy of the request with another method
// served into a writer that discards; probeRoute, a gateway middleware,
// which runs only on a match, notes the match and serves nothing.
type routeProbe struct {
	matched bool
	pattern string // the route's path template
}

type routeProbeKey struct{}

func probeRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if p, ok := r.Context().Value(routeProbeKey{}).(*routeProbe); ok {
			p.matched = true
			if pat, ok := runtime.HTTPPattern(r.Context()); ok {
				p.pattern = pat.String()
			}
			return
		}
		next(w, r, params)
	}
}

// queryUnread refuses a query parameter on a route that reads none
// (routesWithoutQuery), naming it, as strictQuery does on the others.
func (e *httpErrors) queryUnread(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if r.URL.RawQuery != "" {
			if pat, ok := runtime.HTTPPattern(r.Context()); ok && routesWithoutQuery()[r.Method+" "+pat.String()] {
				q := r.URL.Query()
				for _, key := range slices.Sorted(maps.Keys(q)) {
					switch key {
					case cacheBuster:
					case "":
						e.write(w, r, apperr.Invalid(key, "%s", noName(q[key])))
						return
					default:
						e.write(w, r, apperr.Invalid(key, "is not a parameter of this call, which takes none: its path and body set every field of its request"))
						return
					}
				}
			}
		}
		next(w, r, params)
	}
}

// pathToBody hands the route's path parameters to the request's body, so
// that its decoder (bodyJSON) refuses a body that names another record
// than the path: the gateway would write the path's name over it and
// carry the call out on the path's record, the body's name unseen.
func pathToBody(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if b, ok := r.Body.(*limitedBody); ok {
			b.pathParams = params
		}
		next(w, r, params)
	}
}

// allowed lists the methods the gateway serves at r's path.
func (e *httpErrors) allowed(r *http.Request) []string {
	var out []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		p := &routeProbe{}
		probe := r.Clone(context.WithValue(r.Context(), routeProbeKey{}, p))
		probe.Method, probe.Header, probe.Body, probe.ContentLength = method, http.Header{}, http.NoBody, 0
		e.mux.ServeHTTP(discard{}, probe)
		if p.matched {
			out = append(out, method)
		}
	}
	return out
}

// discard is a ResponseWriter that drops what is written to it.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// errTooLarge is what the HTTP gateway answers for a body over the limit:
// 413, in the words gRPC uses for an oversized message.
func errTooLarge(limit int) error {
	return &runtime.HTTPStatusError{
		HTTPStatus: http.StatusRequestEntityTooLarge,
		Err:        apperr.ResourceExhausted("request body larger than the maximum of %d bytes", limit),
	}
}

// gatewayQueryError is how grpc-gateway's runtime.PopulateQueryParameters
// says which query parameter it could not put into the request
// ("parsing field \"page_size\": strconv.ParseInt: ...", "too many values
// for field \"page_size\": 1, 2").
var gatewayQueryError = regexp.MustCompile(`(?s)^(?:parsing field|parsing list|too many values for field|parsing map key|parsing map value) "((?:[^"\\]|\\.)*)"(?: in map "[^"]*")?:? ?(.*)$`)

// namedQueryError turns the gateway's INVALID_ARGUMENT for a query
// parameter it could not parse, which has only a message, into one naming
// the field, as every other INVALID_ARGUMENT does.
func namedQueryError(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument || len(st.Details()) > 0 {
		return err
	}
	m := gatewayQueryError.FindStringSubmatch(st.Message())
	if m == nil {
		return err
	}
	field := m[1]
	if unquoted, err := strconv.Unquote(`"` + field + `"`); err == nil {
		field = unquoted // as %q wrote it: \xff for a byte that is not UTF-8
	}
	return apperr.Invalid(field, "%s", m[2])
}

// strictQuery parses query parameters as grpc-gateway does, but refuses one
// that names no field of the request, or a field the path or the body
// sets: the gateway drops either, so a misspelt ?etga= made a conditional
// delete unconditional, ?filer= listed everything, and a PATCH's
// ?agreement.etag= was not checked.
type strictQuery struct{ runtime.DefaultQueryParser }

func (q strictQuery) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	md := msg.ProtoReflect().Descriptor()
	named := map[string]string{} // a field's path: the key that set it
	// In key order, so that of two bad parameters the same is told each time.
	for _, key := range slices.Sorted(maps.Keys(values)) {
		vals := values[key]
		if key == cacheBuster {
			continue
		}
		// In the words of the gateway's own errors, which the error
		// handler turns into a violation of the field (namedQueryError).
		if key == "" {
			return fmt.Errorf("parsing field %q: %s", key, noName(vals))
		}
		path, leaf, ok := fieldPath(md, key)
		if !ok {
			return fmt.Errorf("parsing field %q: is not a parameter of this call, whose parameters are %s", key, queryParameters(md, filter))
		}
		field := strings.Join(path, ".")
		if filter.HasCommonPrefix(path) {
			return fmt.Errorf("parsing field %q: is set by this call's path or body, not by a query parameter", key)
		}
		if strings.HasSuffix(key, "]") && !leaf.IsMap() {
			return fmt.Errorf("parsing field %q: is not a map; write %s=value", field, field)
		}
		if other, ok := named[field]; ok {
			return fmt.Errorf("parsing field %q: is given as both %s and %s; give it under one name", field, other, key)
		}
		named[field] = key
		if why := badValues(leaf, vals); why != "" {
			return fmt.Errorf("parsing field %q: %s", field, why)
		}
	}
	return q.DefaultQueryParser.Parse(msg, values, filter)
}

// noName says that a query parameter has no name (?=5), its values vals.
func noName(vals []string) string {
	return fmt.Sprintf("a query parameter has no name: %s; write name=value", quoteAll(vals))
}

// givenTimes says that a parameter given once is given as vals.
func givenTimes(vals []string) string {
	return fmt.Sprintf("is given %d times (%s); give it once", len(vals), quoteAll(vals))
}

// queryParameters lists the fields of md a query may set: those the path
// and body (filter) do not.
func queryParameters(md protoreflect.MessageDescriptor, filter *utilities.DoubleArray) string {
	var names []string
	for i := range md.Fields().Len() {
		if name := string(md.Fields().Get(i).Name()); !filter.HasCommonPrefix([]string{name}) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// quoteAll is vals quoted as Go would, between commas.
func quoteAll(vals []string) string {
	quoted := make([]string, len(vals))
	for i, v := range vals {
		quoted[i] = apperr.Quote(v)
	}
	return strings.Join(quoted, ", ")
}

// badValues says, in words for people, what keeps the gateway from
// putting vals (a query's, or a JSON body's value) into field fd, or ""
// when nothing does, for the kinds it would otherwise answer in strconv's
// words ("strconv.ParseInt: parsing \"abc\": invalid syntax") or
// protojson's, which name the field in camelCase.
func badValues(fd protoreflect.FieldDescriptor, vals []string) string {
	if !fd.IsList() && len(vals) > 1 {
		return givenTimes(vals)
	}
	for _, v := range vals {
		var err error
		var least, most string
		switch fd.Kind() {
		case protoreflect.BoolKind:
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Sprintf("must be true or false, not %s", apperr.Quote(v))
			}
		case protoreflect.EnumKind:
			// The gateway takes a value's name or its number.
			values := fd.Enum().Values()
			if n, err := strconv.ParseInt(v, 10, 32); values.ByName(protoreflect.Name(v)) == nil && (err != nil || values.ByNumber(protoreflect.EnumNumber(n)) == nil) {
				return fmt.Sprintf("%s is not one of %s", apperr.Quote(v), enumNames(fd))
			}
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
			_, err = strconv.ParseInt(v, 10, 32)
			least, most = strconv.Itoa(math.MinInt32), strconv.Itoa(math.MaxInt32)
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			_, err = strconv.ParseInt(v, 10, 64)
			least, most = strconv.FormatInt(math.MinInt64, 10), strconv.FormatInt(math.MaxInt64, 10)
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			_, err = strconv.ParseUint(v, 10, 32)
			least, most = "0", strconv.FormatUint(math.MaxUint32, 10)
		case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			_, err = strconv.ParseUint(v, 10, 64)
			least, most = "0", strconv.FormatUint(math.MaxUint64, 10)
		}
		switch {
		case errors.Is(err, strconv.ErrRange) && strings.HasPrefix(v, "-"):
			return fmt.Sprintf("%s is out of range: it must be at least %s", apperr.Clip(v), least)
		case errors.Is(err, strconv.ErrRange):
			return fmt.Sprintf("%s is out of range: it must be at most %s", apperr.Clip(v), most)
		case err != nil:
			return fmt.Sprintf("must be a whole number, not %s", apperr.Quote(v))
		}
	}
	return ""
}

// enumNames lists the names of the values of fd's enum.
func enumNames(fd protoreflect.FieldDescriptor) string {
	values := fd.Enum().Values()
	names := make([]string, values.Len())
	for i := range names {
		names[i] = string(values.Get(i).Name())
	}
	return strings.Join(names, ", ")
}

// useStrictQuery makes strictQuery grpc-gateway's query parser: one for
// the process, which runtime.SetQueryParameterParser sets unguarded, so once,
// before any gateway serves (nodes in one process start concurrently).
var useStrictQuery = sync.OnceFunc(func() { runtime.SetQueryParameterParser(strictQuery{})(nil) })

// cacheBuster is the parameter browsers' scripts add to a URL so that no
// cache answers it (jQuery's cache: false sends ?_=<time>): never a field,
// it is let through unread.
const cacheBuster = "_"

// fieldPath is the path of proto field names that key, a query parameter
// as grpc-gateway reads it (a dotted path of proto or JSON names, a map's
// ending in [key]), names in md; ok is false when it names none.
func fieldPath(md protoreflect.MessageDescriptor, key string) (path []string, leaf protoreflect.FieldDescriptor, ok bool) {
	if i := strings.IndexByte(key, '['); i >= 0 && strings.HasSuffix(key, "]") {
		key = key[:i]
	}
	names := strings.Split(key, ".")
	for i, name := range names {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = md.Fields().ByJSONName(name)
		}
		if fd == nil {
			return nil, nil, false
		}
		path = append(path, string(fd.Name()))
		if i < len(names)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, nil, false
			}
			md = fd.Message()
		}
		leaf = fd
	}
	return path, leaf, true
}
