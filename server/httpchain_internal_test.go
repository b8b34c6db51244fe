package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/internal/netlimit"
	"github.com/provex/provex/internal/requestid"
)

// TestGatewayInternalErrorsAreMaskedAndLogged: errors made in the HTTP layer
// itself (a failure the gateway did not expect, an INTERNAL status of the
// gateway's own gRPC client, a panic in a route) reach the client as a 500
// with only a reference, its request id, which the ERROR log line has with
// the detail.
func TestGatewayInternalErrorsAreMaskedAndLogged(t *testing.T) {
	var logs bytes.Buffer
	errs := &httpErrors{log: slog.New(slog.NewJSONHandler(&logs, nil)), marshaler: &runtime.JSONPb{}}
	errs.mux = runtime.NewServeMux(runtime.WithErrorHandler(errs.handle))
	for name, route := range map[string]http.HandlerFunc{
		"plain error": func(w http.ResponseWriter, r *http.Request) {
			errs.write(w, r, errors.New("secret: marshal failed"))
		},
		"gRPC client status": func(w http.ResponseWriter, r *http.Request) {
			errs.write(w, r, status.Error(codes.Internal, "grpc: error while marshaling: secret"))
		},
		"panic": func(http.ResponseWriter, *http.Request) { panic("secret state") },
	} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			w := httptest.NewRecorder()
			errs.httpChain(route, 1<<10, nil, nil).ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
			id := w.Header().Get(requestid.Header)
			var body struct {
				Code    int
				Message string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 500 || body.Code != int(codes.Internal) {
				t.Fatalf("HTTP %d %s (%v), want 500 with a JSON status", w.Code, w.Body, err)
			}
			if strings.Contains(w.Body.String(), "secret") || body.Message != "internal error (reference "+id+")" || id == "" {
				t.Errorf("client sees %s with X-Request-Id %q: want only the reference, the id", w.Body, id)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line["level"] != "ERROR" || line["request_id"] != id || !strings.Contains(line["err"].(string), "secret") {
				t.Errorf("log %s (%v): want one ERROR line with request_id %q and the detail", logs.String(), err, id)
			}
		})
	}
}

// FuzzGatewayJSON sends arbitrary JSON bodies and path segments to the HTTP
// handler of a real node: it never answers 500, always sets X-Request-Id,
// and every refusal is a JSON google.rpc.Status.
func FuzzGatewayJSON(f *testing.F) {
	f.Add("agreements", "", `{"display_name":"x","kind":"KIND_MOU"}`)
	f.Add("agreements", "a1", `{"display_name":"\u00e9","partner_countries":["CN","LA"],"signed_date":{"year":2024,"month":2,"day":30}}`)
	f.Add("agreements", "x:undelete", `{"etag":"W/\"1\""}`)
	f.Add("delegations", "", `{"display_name":"d","direction":"DIRECTION_OUTGOING","members":-1}`)
	f.Add("projects", "", `{"registered_capital":{"currency_code":"VND","units":"9223372036854775807"}}`)
	f.Add("agreements", "%ff", "{\"display_name\":\"\xff\"}")
	f.Add("agreements", "", `{"display_name":`)
	f.Add("nope", "..", `[1,2,3]`)
	f.Add("agreements", "", "{\"foreign_parties\":[{\"name\":\"a\"},{\"name\":\"\xff\",\"x\":[{}]}],\"signed_date\":{\"year\":\"y\"}}")
	f.Add("delegations", "d1", `{"members":{"a":[1,{"b":2}]},"nope":null}`)
	f.Add("agreements", "", `{"display_name":"\ud800\\udc00 \ud83d\ude00","summary":"\udc00"}`)
	// One node per fuzzing process, with an admin token, so bodies get past
	// authentication to decoding and validation.
	n, token := startAdminNode(f, Limits{RatePerSecond: 1e9, Burst: 1e9, MaxMessageBytes: 64 << 10})
	f.Fuzz(func(t *testing.T, collection, segment, body string) {
		path := "/v1/provinces/cao-bang/" + collection
		method := "POST"
		if segment != "" {
			path += "/" + segment
			method = "PATCH"
		}
		if strings.HasSuffix(segment, ":undelete") {
			method = "POST"
		}
		req, err := http.NewRequest(method, "http://node"+path, strings.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		n.http.Handler.ServeHTTP(w, req.WithContext(ctx))
		out, _ := io.ReadAll(w.Result().Body)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: HTTP %d %s", method, path, body, w.Code, out)
		}
		if !requestid.Sane(w.Header().Get(requestid.Header)) {
			t.Fatalf("%s %s: X-Request-Id %q", method, path, w.Header().Values(requestid.Header))
		}
		if w.Code >= 400 {
			var st struct {
				Code    *int    `json:"code"`
				Message *string `json:"message"`
			}
			if err := json.Unmarshal(out, &st); err != nil || st.Code == nil || st.Message == nil {
				t.Fatalf("%s %s %q: HTTP %d body %q is not a JSON status (%v)", method, path, body, w.Code, out, err)
			}
		}
	})
}

// startAdminNode starts a node of cao-bang in dev mode, stopped at the end
// of t, and issues an admin token of it.
func startAdminNode(t testing.TB, limits Limits) (*Node, string) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	n, err := New(ctx, Config{
		Member: "cao-bang", DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), PlaintextAPI: true, Limits: limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx) }()
	t.Cleanup(func() { stop(); <-served })
	token, err := n.IssueToken(ctx, auth.RoleAdmin, "test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return n, token
}

// TestBoundUnsentRefusesPastTheBound: under boundUnsent, an answer whose
// first write would pass its client's bound is a 429 with only the chain's
// headers (not the Content-Length or status the handler set for the
// answer), the status a handler sets is passed on with its first byte or
// a Flush, one begun and then past the bound is cut off
// (http.ErrAbortHandler), and each write's bytes are given back when it
// returns.
func TestBoundUnsentRefusesPastTheBound(t *testing.T) {
	errs := &httpErrors{log: slog.New(slog.DiscardHandler), marshaler: &runtime.JSONPb{}}
	errs.mux = runtime.NewServeMux(runtime.WithErrorHandler(errs.handle))
	unsent := netlimit.NewUnsent(100, 100, 1000)
	client := netip.MustParseAddr("192.0.2.1") // httptest.NewRequest's
	serve := func(route http.HandlerFunc) (w *httptest.ResponseRecorder, aborted bool) {
		w = httptest.NewRecorder()
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					t.Fatalf("panic %v, want http.ErrAbortHandler", p)
				}
				aborted = true
			}
			if total, _ := unsent.Held(client); total != 0 {
				t.Errorf("%d bytes held after the answer", total)
			}
		}()
		errs.httpChain(route, 1<<10, nil, unsent).ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		return w, false
	}

	w, _ := serve(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.Write(make([]byte, 100))
	})
	if w.Code != http.StatusCreated || w.Body.Len() != 100 {
		t.Errorf("an answer within the bound: %d, %d bytes; want 201 and 100", w.Code, w.Body.Len())
	}

	var writeErr error
	w, _ = serve(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "101")
		w.WriteHeader(http.StatusAccepted)
		_, writeErr = w.Write(make([]byte, 101))
	})
	if w.Code != http.StatusTooManyRequests || writeErr == nil || !strings.Contains(w.Body.String(), "wait unread") {
		t.Errorf("an answer past the bound: %d %q (the write's error %v); want 429 saying the answers wait unread, and an error", w.Code, w.Body, writeErr)
	}
	if w.Header().Get("Content-Length") == "101" || w.Header().Get(requestid.Header) == "" {
		t.Errorf("the 429's headers %v: want the chain's, without the answer's Content-Length", w.Header())
	}

	w, _ = serve(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNonAuthoritativeInfo)
		http.NewResponseController(w).Flush()
	})
	if w.Code != http.StatusNonAuthoritativeInfo || !w.Flushed {
		t.Errorf("a status flushed: %d (flushed %v), want 203 flushed", w.Code, w.Flushed)
	}

	w, aborted := serve(func(w http.ResponseWriter, _ *http.Request) {
		for range 3 {
			w.Write(make([]byte, 60))
		}
		// Two writes of 60 bytes are within the bound of 100 one at a
		// time; one holding another's place is not.
		hold := unsent.Hold(client, 60)
		defer unsent.GiveBack(client, 60)
		if !hold {
			t.Fatal("60 bytes refused with none held")
		}
		w.Write(make([]byte, 60))
	})
	if !aborted || w.Code != http.StatusOK || w.Body.Len() != 180 {
		t.Errorf("an answer begun, then past the bound: %d, %d bytes, aborted %v; want 200, 180 bytes, aborted", w.Code, w.Body.Len(), aborted)
	}
}
