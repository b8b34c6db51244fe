package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
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

// goawayWatch is a node's side of a connection that tells when the node
// has written a GOAWAY frame on it.
type goawayWatch struct {
	net.Conn
	unread []byte // frames written, not yet looked at
	sent   chan struct{}
	once   sync.Once
}

func (c *goawayWatch) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.unread = append(c.unread, p[:n]...)
	for len(c.unread) >= 9 {
		length := int(c.unread[0])<<16 | int(c.unread[1])<<8 | int(c.unread[2])
		if len(c.unread) < 9+length {
			break
		}
		if c.unread[3] == 0x7 { // GOAWAY
			c.once.Do(func() { close(c.sent) })
		}
		c.unread = c.unread[9+length:]
	}
	return n, err
}

type goawayListener struct {
	net.Listener
	conns chan *goawayWatch
}

func (l goawayListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w := &goawayWatch{Conn: c, sent: make(chan struct{})}
	l.conns <- w
	return w, nil
}

// TestCreateLostAfterGoawayGivesItsRequestID: a node that sends GOAWAY
// (it is stopping) and then drops the connection before answering a
// create it received: gRPC's words, "closing transport due to: connection
// error: ..., received prior goaway", were read as a connection never
// made, and the request id was not given (an outside review).
func TestCreateLostAfterGoawayGivesItsRequestID(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *goawayWatch, 1)
	var srv *grpc.Server
	srv = grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var req twinningv1.CreateAgreementRequest
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		conn := <-conns
		go srv.GracefulStop()
		<-conn.sent
		conn.Conn.Close() // the node's process ends before it answers
		<-stream.Context().Done()
		return stream.Context().Err()
	}))
	go srv.Serve(goawayListener{lis, conns})
	defer srv.Stop()
	t.Setenv("PROVEX_TOKEN", "")
	t.Setenv("PROVEX_CA", "")
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &out, Stdin: strings.NewReader("display_name: x\nkind: KIND_MOU\n")}
	err = runCreate(context.Background(), env, []string{"provinces/cao-bang/agreements", "-f", "-", "--addr", lis.Addr().String()})
	if msg := FormatError(err); !strings.HasPrefix(msg, "UNAVAILABLE: ") || !strings.Contains(msg, "run the command again with --request-id cli-") {
		t.Errorf("create lost after a GOAWAY: %s", msg)
	}
}
