package server

import (
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// fastGet serves a standard Get of the gateway (GET
// "/v1/{name=provinces/*/agreements/*}", a request of the name alone) the
// way the gateway's generated handler does, with the gateway's own
// functions (runtime.AnnotateContext for the metadata, HTTPError and
// ForwardResponseMessage for the answer, the service mux's error handler,
// marshaler and options) and through the same gatewayChannel, less what the
// generated code spends around them: trying the service's routes one after
// the other, the request copied twice, the call's response copied into a
// message of its own before it is marshalled. Gets are most of the HTTP
// calls a node serves; with this the gateway's Get throughput is within
// what issue 11 asks of it against gRPC (BENCHMARKS.md).
//
// What it does not serve exactly as the gateway would (a query, a body, an
// escaped path, another method, a verb) it leaves to next, the service's
// gateway mux. TestGatewayFastGetIsTheGateway compares the two.
type fastGet struct {
	method   string // the gRPC method, "/provex.twinning.v1.TwinningService/GetAgreement"
	template string // the rule's path template
	prefix   string // the path before the name, "/v1/"
	segments []string
	input    protoreflect.MessageType
	field    protoreflect.FieldDescriptor
	channel  *gatewayChannel
	mux      *runtime.ServeMux // the service's gateway mux
	next     http.Handler
}

// newFastGet is the fast path of rule, served on mux, or nil if rule is not
// a standard Get: GET on a template of one variable after literal segments,
// made of literal segments and single-segment wildcards, with no verb, no
// body, a unary method whose request is that variable's string alone (so
// the gateway reads no query), and no other GET rule of gets could match a
// path it matches.
func newFastGet(rule httpRule, gets []httpRule, channel *gatewayChannel, mux *runtime.ServeMux) *fastGet {
	md := rule.method
	if rule.verb != http.MethodGet || rule.body != "" || rule.responseBody != "" || md.IsStreamingClient() || md.IsStreamingServer() {
		return nil
	}
	open := strings.IndexByte(rule.template, '{')
	if open < 0 || !strings.HasSuffix(rule.template, "}") || !strings.HasPrefix(rule.template, "/") || !strings.HasSuffix(rule.template[:open], "/") {
		return nil
	}
	prefix := rule.template[:open]
	if strings.ContainsAny(prefix, "*:{}") || strings.Contains(prefix, "//") {
		return nil
	}
	variable, tmpl, ok := strings.Cut(rule.template[open+1:len(rule.template)-1], "=")
	if !ok || strings.ContainsAny(tmpl, "{}:=") {
		return nil
	}
	segments := strings.Split(tmpl, "/")
	for _, seg := range segments {
		if seg == "" || seg != "*" && strings.Contains(seg, "*") {
			return nil
		}
	}
	fields := md.Input().Fields()
	field := fields.ByName(protoreflect.Name(variable))
	if fields.Len() != 1 || field == nil || field.Kind() != protoreflect.StringKind || field.Cardinality() == protoreflect.Repeated {
		return nil
	}
	input, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		return nil
	}
	own, ok := serveMuxPattern(rule.template)
	if !ok {
		return nil
	}
	for _, other := range gets {
		if other.method == md && other.template == rule.template {
			continue
		}
		if p, ok := serveMuxPattern(other.template); !ok || patternsOverlap(own, p) {
			return nil
		}
	}
	return &fastGet{
		method:   "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		template: rule.template,
		prefix:   prefix,
		segments: segments,
		input:    input,
		field:    field,
		channel:  channel,
		mux:      mux,
	}
}

// patternsOverlap reports whether some path matches both net/http patterns
// of serveMuxPattern.
func patternsOverlap(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] && !strings.HasPrefix(as[i], "{") && !strings.HasPrefix(bs[i], "{") {
			return false
		}
	}
	return true
}

func (f *fastGet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := f.match(r)
	if !ok {
		f.next.ServeHTTP(w, r)
		return
	}
	_, outbound := runtime.MarshalerForRequest(f.mux, r)
	ctx, err := runtime.AnnotateContext(r.Context(), f.mux, r, f.method, runtime.WithHTTPPathPattern(f.template))
	if err != nil {
		runtime.HTTPError(r.Context(), f.mux, outbound, w, r, err)
		return
	}
	in := f.input.New()
	in.Set(f.field, protoreflect.ValueOfString(name))
	var md runtime.ServerMetadata
	resp, err := f.channel.call(ctx, f.method, in.Interface(), &md.HeaderMD, &md.TrailerMD)
	ctx = runtime.NewServerMetadataContext(ctx, md)
	if err != nil {
		runtime.HTTPError(ctx, f.mux, outbound, w, r, err)
		return
	}
	runtime.ForwardResponseMessage(ctx, f.mux, outbound, w, r, resp, f.mux.GetForwardResponseOptions()...)
}

// match is the name r asks for, if f serves r: a GET with no query and no
// body, whose path is not escaped (the gateway would unescape it
// differently) and matches the template with no verb in its last segment.
// The name is then what the gateway's pattern would capture. A route
// probe (routeProbe) goes to the gateway, which answers it.
func (f *fastGet) match(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet || r.URL.RawPath != "" || r.URL.RawQuery != "" || r.ContentLength != 0 {
		return "", false
	}
	if _, probing := r.Context().Value(routeProbeKey{}).(*routeProbe); probing {
		return "", false
	}
	name, ok := strings.CutPrefix(r.URL.Path, f.prefix)
	if !ok {
		return "", false
	}
	rest := name
	for i, seg := range f.segments {
		part := rest
		if i < len(f.segments)-1 {
			j := strings.IndexByte(rest, '/')
			if j < 0 {
				return "", false
			}
			part, rest = rest[:j], rest[j+1:]
		} else if strings.ContainsAny(part, "/:") {
			return "", false
		}
		if seg != "*" && part != seg {
			return "", false
		}
	}
	return name, true
}
