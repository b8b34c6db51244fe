package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

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
