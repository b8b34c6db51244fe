package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSeedTakesAlreadyExistsAsSeeded: a node restored from its peers has
// its records back but not the request ids its API saw, so seeding again
// got ALREADY_EXISTS for the first record and failed (an outside review;
// provex demo's restart seeds again). Against a gRPC server on loopback
// that answers every call so, Seed succeeds; one that refuses does not.
func TestSeedTakesAlreadyExistsAsSeeded(t *testing.T) {
	for _, tc := range []struct {
		code codes.Code
		ok   bool
	}{{codes.AlreadyExists, true}, {codes.PermissionDenied, false}} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			return status.Error(tc.code, "answered so by the test")
		}))
		go srv.Serve(lis)
		c, err := client.Dial(lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		n, err := Seed(context.Background(), c, "cao-bang")
		if tc.ok && (err != nil || n == 0) || !tc.ok && status.Code(err) != tc.code {
			t.Errorf("every create answered %v: seeded %d, %v", tc.code, n, err)
		}
		c.Close()
		srv.Stop()
	}
}

// TestCreateWhoseAnswerIsLostSaysHowToFinishIt: a create interrupted
// after it was sent may be stored all the same, and running it again made
// a second record (an outside review: 8 of 30 timed-out creates were
// stored). Every create now carries a request id; when the answer is lost
// the error gives it, and it is the one the node received.
func TestCreateWhoseAnswerIsLostSaysHowToFinishIt(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan string, 1)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var req twinningv1.CreateAgreementRequest
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		received <- req.GetRequestId()
		<-stream.Context().Done() // the answer never comes
		return stream.Context().Err()
	}))
	go srv.Serve(lis)
	defer srv.Stop()
	t.Setenv("PROVEX_TOKEN", "")
	t.Setenv("PROVEX_CA", "")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 1)
	go func() {
		got <- <-received
		cancel()
	}()
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &out, Stdin: strings.NewReader("display_name: x\nkind: KIND_MOU\n")}
	err = runCreate(ctx, env, []string{"provinces/cao-bang/agreements", "-f", "-", "--addr", lis.Addr().String()})
	msg := FormatError(err)
	i := strings.Index(msg, "run the command again with --request-id cli-")
	if err == nil || i < 0 {
		t.Fatalf("create whose answer was lost: %q", msg)
	}
	given := strings.Fields(msg[i+len("run the command again with --request-id "):])[0]
	if sent := <-got; given != sent {
		t.Errorf("the error gives request id %q; the node received %q", given, sent)
	}
	if !strings.HasPrefix(msg, "CANCELED: ") {
		t.Errorf("error %q: want CANCELED first", msg)
	}
}
