package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// testNode is a real node serving on loopback ports, with a gRPC client.
type testNode struct {
	*client.Client
	Srv     *server.Node
	Member  string
	DataDir string
	// BaseURL is http://host:port of the HTTP gateway.
	BaseURL string
	// Token is an admin token of the node, which Client and httpDo send.
	Token string

	cancel   context.CancelFunc
	done     chan struct{}
	serveErr error
	stopOnce sync.Once
}

// startNode starts a node of member on a fresh data directory.
func startNode(t *testing.T, member string) *testNode {
	t.Helper()
	return startNodeAt(t, member, t.TempDir())
}

// startNodeAt starts a node of member on dir (which may hold a database from
// an earlier node). Cleanup stops it and waits for Serve to return.
func startNodeAt(t *testing.T, member, dir string) *testNode {
	t.Helper()
	return startNodeWith(t, member, dir, nil)
}

// startNodeWith is startNodeAt with the test's configuration changed by
// configure (if not nil).
func startNodeWith(t *testing.T, member, dir string, configure func(*server.Config)) *testNode {
	t.Helper()
	return startNodeToken(t, member, dir, configure, "")
}

// restartNode starts tn's node again on its data directory, calling with
// the token it had, which the node keeps: issuing one is a write, and
// some tests restart a node that cannot write.
func restartNode(t *testing.T, tn *testNode) *testNode {
	t.Helper()
	tn.Stop(t)
	return startNodeToken(t, tn.Member, tn.DataDir, nil, tn.Token)
}

// startNodeToken is startNodeWith calling with token, or with a new admin
// token if token is "".
func startNodeToken(t *testing.T, member, dir string, configure func(*server.Config), token string) *testNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := server.Config{
		Member:          member,
		DataDir:         dir,
		GRPCAddr:        "127.0.0.1:0",
		HTTPAddr:        "127.0.0.1:0",
		ShutdownTimeout: 10 * time.Second,
		Version:         "test",
		Logger:          slog.New(slog.DiscardHandler),
		PlaintextAPI:    true,
		// Tests call as fast as they can; TestFloods sets its own limits.
		Limits: server.Limits{RatePerSecond: 1e6, Burst: 1e6},
	}
	if configure != nil {
		configure(&cfg)
	}
	n, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	if err := n.Listen(); err != nil {
		cancel()
		t.Fatalf("Listen: %v", err)
	}
	tn := &testNode{Srv: n, Member: member, DataDir: dir, BaseURL: "http://" + n.HTTPAddr(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tn.done)
		tn.serveErr = n.Serve(ctx)
	}()
	tn.Token = token
	if token == "" {
		if tn.Token, err = n.IssueToken(ctx, auth.RoleAdmin, "test", time.Time{}); err != nil {
			tn.Stop(t)
			t.Fatalf("IssueToken: %v", err)
		}
	}
	c, err := client.Dial(n.GRPCAddr(), client.WithToken(tn.Token))
	if err != nil {
		tn.Stop(t)
		t.Fatalf("Dial: %v", err)
	}
	tn.Client = c
	t.Cleanup(func() { tn.Stop(t) })
	return tn
}

// Stop cancels Serve and waits for it to return (the store is closed then).
// It may be called more than once.
func (tn *testNode) Stop(t testing.TB) {
	tn.stopOnce.Do(func() {
		tn.cancel()
		select {
		case <-tn.done:
		case <-time.After(20 * time.Second):
			t.Errorf("node %s: Serve did not return within 20s of cancel", tn.Member)
		}
		if tn.serveErr != nil {
			t.Errorf("node %s: Serve: %v", tn.Member, tn.serveErr)
		}
		if tn.Client != nil {
			tn.Client.Close()
		}
	})
}

func (tn *testNode) parent() string { return "provinces/" + tn.Member }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// codeOf is the gRPC code of err (OK for nil).
func codeOf(err error) codes.Code { return status.Code(err) }

// violations returns the field paths of the BadRequest details of err, in
// order.
func violations(err error) []string {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

// wantCode fails unless err has the code want.
func wantCode(t *testing.T, err error, want codes.Code, what string) {
	t.Helper()
	if got := codeOf(err); got != want {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, want)
	}
}

// wantInvalid fails unless err is INVALID_ARGUMENT whose violations are
// exactly fields (in any order).
func wantInvalid(t *testing.T, err error, what string, fields ...string) {
	t.Helper()
	if got := codeOf(err); got != codes.InvalidArgument {
		t.Errorf("%s: code %v (%v), want InvalidArgument", what, got, err)
		return
	}
	got := violations(err)
	if !sameSet(got, fields) {
		t.Errorf("%s: violations %q, want %q (err: %v)", what, got, fields, err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// listAll pages through a whole collection.
func listAll(ctx context.Context, c *client.Client, parent string, k *resource.Kind, o client.ListOptions) ([]proto.Message, error) {
	var out []proto.Message
	for page := 0; ; page++ {
		if page > 10000 {
			return nil, errors.New("too many pages")
		}
		items, next, err := c.List(ctx, parent, k, o)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		o.PageToken = next
	}
}

func namesOf(k *resource.Kind, ms []proto.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = k.Name(m)
	}
	return out
}

func date(y, m, d int32) *typev1.Date { return &typev1.Date{Year: y, Month: m, Day: d} }

// httpDo sends an HTTP request to the node's gateway and returns the
// response with its body read.
func (tn *testNode) httpDo(t *testing.T, method, path, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, tn.BaseURL+path, r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tn.Token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

func mustf(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// waitFor polls cond until it holds, failing the test with what after
// within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
