package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// BenchmarkGatewayGet is the node's side of an HTTP Get, from the HTTP
// chain to the JSON written, without the network: what bench gateway
// measures per call, less net/http's reading and writing.
func BenchmarkGatewayGet(b *testing.B) {
	n, token := startAdminNode(b, Limits{RatePerSecond: 1e9, Burst: 1e9})
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://node"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		n.http.Handler.ServeHTTP(w, req)
		return w
	}
	w := do("POST", "/v1/provinces/cao-bang/agreements?agreement_id=a1",
		`{"display_name":"Memorandum of understanding on border trade cooperation","kind":"KIND_MOU","state":"STATE_SIGNED","partner_countries":["CN"],"signed_place":"Cao Bằng","summary":"Cooperation in border-gate management and trade facilitation."}`)
	if w.Code != http.StatusOK {
		b.Fatalf("create: %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if w := do("GET", "/v1/provinces/cao-bang/agreements/a1", ""); w.Code != http.StatusOK {
			b.Fatalf("get: %d %s", w.Code, w.Body)
		}
	}
}

// TestGatewayRouteIndexAgrees: for every path of every HTTP rule (and a
// few that are not one) and every method, the route index sends the request
// to the route the mux of every service would have chosen, or to that mux.
func TestGatewayRouteIndexAgrees(t *testing.T) {
	ctx := context.Background()
	errs := &httpErrors{log: slog.New(slog.DiscardHandler), marshaler: bodyJSON{&runtime.JSONPb{}}}
	all := errs.newMux(errs.routing)
	errs.mux = all
	root := http.NewServeMux()
	root.Handle("/", all)
	channel := newGatewayChannel(nil, nil, 0)
	services := gatewayServices(channel)
	if err := routeGateway(ctx, root, all, errs.newMux, services, channel); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"/v1/provinces/x/agreements/x:bogus", "/v1/provinces/x/agreement%73/x", "/v1/provinces/x%2Fy/agreements/x",
		"/v1/provinces/x/agreements/x/y", "/v1/nope", "/v1/national/x:nope", "/v1/provinces/x/agreements/a%2Fb",
		"/v1/provinces", "/v1/audit:verify", "/v1/audit:nope", "/v1/national/x:summarize",
	}
	indexed := 0
	for _, s := range services {
		templates, err := httpRuleTemplates(s.name)
		if err != nil || len(templates) == 0 {
			t.Fatalf("%s: %d templates, %v", s.name, len(templates), err)
		}
		for _, tmpl := range templates {
			p, ok := serveMuxPattern(tmpl)
			if !ok {
				t.Errorf("%s: no net/http pattern", tmpl)
				continue
			}
			sample := strings.NewReplacer("{", "", "}", "").Replace(p)
			// The verb after a variable; one after a literal is in p.
			if i := strings.LastIndex(tmpl, "}:"); i >= 0 && !strings.Contains(tmpl[i:], "/") {
				sample += tmpl[i+1:]
			}
			paths = append(paths, sample)
			if h, _ := root.Handler(httptest.NewRequest("GET", sample, nil)); h != http.Handler(all) {
				indexed++
			}
		}
	}
	if indexed < len(paths)/2 {
		t.Fatalf("the index routes %d of %d rule paths", indexed, len(paths))
	}
	probe := func(h http.Handler, method, path string) routeProbe {
		p := &routeProbe{}
		r := httptest.NewRequest(method, path, nil)
		h.ServeHTTP(discard{}, r.WithContext(context.WithValue(r.Context(), routeProbeKey{}, p)))
		return *p
	}
	for _, path := range paths {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			want, got := probe(all, method, path), probe(root, method, path)
			if got != want {
				t.Errorf("%s %s: index routes to %+v, the gateway to %+v", method, path, got, want)
			}
		}
	}
}
