package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// gatewayService is one service the gateway serves: its full name, whose
// google.api.http rules say its paths, and how to register its handlers on
// a gateway mux.
type gatewayService struct {
	name     string
	register func(context.Context, *runtime.ServeMux) error
}

// routeGateway registers services on all, the gateway mux of every service,
// and, for each service, on a mux of its own that root sends the service's
// paths to. grpc-gateway tries the routes of a method one after the other,
// with two allocations for each route that does not match: a Get tried
// about 30 of provex's 62 GET routes before this index, and tries the
// routes of its own service only now. What a service's mux does not route
// (404, 405, the bad path) goes to all, which answers it as it did before;
// what it routes is what all would have routed, as long as no two services
// have paths in common (TestGatewayRouteIndexAgrees). A standard Get's
// path goes to its fastGet, in front of the service's mux.
func routeGateway(ctx context.Context, root *http.ServeMux, all *runtime.ServeMux, newMux func(runtime.RoutingErrorHandlerFunc) *runtime.ServeMux, services []gatewayService, channel *gatewayChannel) error {
	for _, s := range services {
		if err := s.register(ctx, all); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
	}
	rules := make([][]httpRule, len(services))
	var gets []httpRule
	for i, s := range services {
		var err error
		if rules[i], err = httpRules(s.name); err != nil {
			return err
		}
		for _, r := range rules[i] {
			if r.verb == http.MethodGet {
				gets = append(gets, r)
			}
		}
	}
	byPattern := map[string]*runtime.ServeMux{}
	fast := map[string]*fastGet{}
	ambiguous := map[string]bool{}
	var order []string
	for i, s := range services {
		own := newMux(func(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, _ int) {
			all.ServeHTTP(w, r)
		})
		if err := s.register(ctx, own); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		for _, rule := range rules[i] {
			p, ok := serveMuxPattern(rule.template)
			if !ok {
				continue
			}
			if f := newFastGet(rule, gets, channel, own); f != nil && channel != nil {
				fast[p] = f
			}
			if m, seen := byPattern[p]; seen && m != own {
				ambiguous[p] = true
			}
			if _, seen := byPattern[p]; !seen {
				order = append(order, p)
			}
			byPattern[p] = own
		}
	}
	for _, p := range order {
		if ambiguous[p] {
			continue
		}
		var h http.Handler = byPattern[p]
		if f := fast[p]; f != nil && f.mux == byPattern[p] {
			f.next, h = h, f
		}
		if err := handleOnce(root, p, h); err != nil {
			return err
		}
	}
	return nil
}

// handleOnce registers h at pattern on mux, or returns why net/http would
// not (a pattern that conflicts with another, which it panics on).
func handleOnce(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("gateway route index: %v", p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// httpRule is one binding of a google.api.http rule: an HTTP method and
// path template, and the gRPC method it calls.
type httpRule struct {
	method       protoreflect.MethodDescriptor
	verb         string // GET, POST, ... or a custom rule's kind
	template     string
	body         string
	responseBody string
}

// httpRules lists the bindings of the google.api.http rules of service's
// methods, additional bindings included.
func httpRules(service string) ([]httpRule, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("gateway: service %s: %w", service, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("gateway: %s is not a service", service)
	}
	var out []httpRule
	var add func(protoreflect.MethodDescriptor, *annotations.HttpRule)
	add = func(md protoreflect.MethodDescriptor, rule *annotations.HttpRule) {
		r := httpRule{method: md, body: rule.GetBody(), responseBody: rule.GetResponseBody()}
		switch p := rule.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			r.verb, r.template = http.MethodGet, p.Get
		case *annotations.HttpRule_Put:
			r.verb, r.template = http.MethodPut, p.Put
		case *annotations.HttpRule_Post:
			r.verb, r.template = http.MethodPost, p.Post
		case *annotations.HttpRule_Delete:
			r.verb, r.template = http.MethodDelete, p.Delete
		case *annotations.HttpRule_Patch:
			r.verb, r.template = http.MethodPatch, p.Patch
		case *annotations.HttpRule_Custom:
			r.verb, r.template = p.Custom.GetKind(), p.Custom.GetPath()
		}
		if r.template != "" {
			out = append(out, r)
		}
		for _, b := range rule.GetAdditionalBindings() {
			add(md, b)
		}
	}
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		if rule, ok := proto.GetExtension(methods.Get(i).Options(), annotations.E_Http).(*annotations.HttpRule); ok && rule != nil {
			add(methods.Get(i), rule)
		}
	}
	return out, nil
}

// httpRuleTemplates lists the path templates of service's HTTP rules.
func httpRuleTemplates(service string) ([]string, error) {
	rules, err := httpRules(service)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.template
	}
	return out, nil
}

// serveMuxPattern is the net/http pattern of the paths an HTTP rule's
// template can match: "/v1/{name=provinces/*/agreements/*}:undelete" is
// "/v1/provinces/{s1}/agreements/{s3}", a segment wildcard of net/http
// matching the last segment with its verb. It reports false for what it
// does not translate ("**"); those paths are left to the mux of every
// service.
func serveMuxPattern(template string) (string, bool) {
	var b strings.Builder
	for rest := template; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", false
		}
		// A variable matches its own template, or one segment.
		if v := rest[i+1 : i+j]; strings.Contains(v, "=") {
			b.WriteString(v[strings.IndexByte(v, '=')+1:])
		} else {
			b.WriteString("*")
		}
		rest = rest[i+j+1:]
	}
	path := b.String()
	if !strings.HasPrefix(path, "/") {
		return "", false
	}
	segs := strings.Split(path[1:], "/")
	for i, seg := range segs {
		switch {
		case seg == "*" || i == len(segs)-1 && strings.HasPrefix(seg, "*:"):
			segs[i] = "{s" + strconv.Itoa(i) + "}"
		case seg == "" || strings.ContainsAny(seg, "*{}"):
			return "", false
		}
	}
	return "/" + strings.Join(segs, "/"), true
}

// routesWithoutQuery are the gateway's routes that read no query parameter,
// as "VERB template" with the template as runtime.Pattern prints it: those
// whose body is the whole request, or whose request's fields the path sets
// all. grpc-gateway does not parse their query at all (strictQuery never
// runs), so a parameter there was dropped unseen: an Undelete's ?etag=, a
// Get's misspelt ?etga=, a view's ?filter=.
var routesWithoutQuery = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	for _, r := range provexHTTPRules() {
		if !r.readsQuery() {
			out[r.verb+" "+patternText(r.template)] = true
		}
	}
	return out
})

// gatewayRoute is what a gateway route calls: the gRPC method's full name
// and its request message.
type gatewayRoute struct {
	method  string
	request protoreflect.MessageType
}

// gatewayRoutes are the gateway's routes by "VERB template", the template
// as runtime.Pattern prints it (routeOf).
var gatewayRoutes = sync.OnceValue(func() map[string]gatewayRoute {
	out := map[string]gatewayRoute{}
	for _, r := range provexHTTPRules() {
		request, err := protoregistry.GlobalTypes.FindMessageByName(r.method.Input().FullName())
		if err != nil {
			continue
		}
		method := "/" + string(r.method.Parent().FullName()) + "/" + string(r.method.Name())
		out[r.verb+" "+patternText(r.template)] = gatewayRoute{method: method, request: request}
	}
	return out
})

// routeOf is the route a gateway mux matched r to, from within the mux's
// middleware.
func routeOf(r *http.Request) (gatewayRoute, bool) {
	pat, ok := runtime.HTTPPattern(r.Context())
	if !ok {
		return gatewayRoute{}, false
	}
	route, ok := gatewayRoutes()[r.Method+" "+pat.String()]
	return route, ok
}

// provexHTTPRules lists the bindings of the HTTP rules of every service of
// provex's packages.
func provexHTTPRules() []httpRule {
	var out []httpRule
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "provex.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			// A service of the registry: httpRules finds it.
			rules, _ := httpRules(string(fd.Services().Get(i).FullName()))
			out = append(out, rules...)
		}
		return true
	})
	return out
}

// readsQuery says whether some field of the rule's request is left to
// query parameters: not the body, not set by a variable of the path.
func (r httpRule) readsQuery() bool {
	if r.body == "*" {
		return false
	}
	bound := map[string]bool{r.body: true}
	for rest := r.template; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		v := rest[i+1:]
		v = v[:strings.IndexAny(v, "=}")]
		bound[strings.SplitN(v, ".", 2)[0]] = true
		rest = rest[i+1:]
	}
	fields := r.method.Input().Fields()
	for i := 0; i < fields.Len(); i++ {
		if !bound[string(fields.Get(i).Name())] {
			return true
		}
	}
	return false
}

// patternText is template as runtime.Pattern's String prints it: a
// variable without a template of its own matches one segment ({name} is
// {name=*}).
func patternText(template string) string {
	var b strings.Builder
	for rest := template; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		j := strings.IndexByte(rest[i:], '}') + i
		b.WriteString(rest[:j])
		if !strings.Contains(rest[i:j], "=") {
			b.WriteString("=*")
		}
		b.WriteByte('}')
		rest = rest[j+1:]
	}
}
