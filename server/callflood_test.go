package server_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// TestCallFlood: clients with no token open calls whose headers arrive
// and whose message never does, which hold a goroutine and buffers each
// until their deadline (256 on each connection; at 4096 connections a
// million of them, gigabytes). Each client holds at most CallsPerAddress
// calls in flight, over gRPC and over HTTP, the server at most Calls. A
// gRPC call over a cap closes the connection that carries it (grpc-go
// would keep a call its tap refuses in memory for as long as its
// grpc-timeout), an HTTP request over a cap gets 429; honest callers from
// other addresses get through while the flood is within the total, and the
// caps are given back when the calls end.
func TestCallFlood(t *testing.T) {
	const perAddress, total = 20, 60
	p := newPair(t, server.Limits{Calls: total, CallsPerAddress: perAddress,
		CallTimeout: 5 * time.Minute, ReadTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	province := p.start("cao-bang")
	ctx := testCtx(t)
	addr := province.srv.GRPCAddr()
	honest := func() error {
		_, err := province.api.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang"})
		return err
	}
	hold := func(from string) *rawH2 { return holdCalls(t, from, addr, perAddress) }

	// Calls that never send their message, from 127.0.0.1: up to the cap
	// they wait; one more, on another connection, closes that connection,
	// and the calls held stay held (one more still closes its connection).
	flood := hold("127.0.0.1")
	for range 2 {
		over := dialRawH2From(t, "127.0.0.1", addr)
		over.call(1, addr, heldMethod, nil, false)
		if !over.closed(10 * time.Second) {
			t.Fatalf("the connection of a call over the cap of one address was not closed")
		}
	}
	if err := honest(); err != nil {
		t.Fatalf("an honest call from another address during the flood: %v", err)
	}

	// Over HTTP too: requests whose body never comes count as calls. Of
	// one more than the cap, whichever comes last is refused (429; with
	// Expect: 100-continue the node need not read its body first), and
	// the others are asked for their bodies, which never come. (They come
	// with a token: one without is refused before its body is asked for,
	// TestBodiesDecodedOnlyOnceAdmitted.)
	answers := map[string]int{}
	var held []net.Conn
	for range perAddress + 1 {
		c, err := fromAddr("127.0.0.1").Dial("tcp", province.srv.HTTPAddr())
		mustf(t, err, "dial HTTP")
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /v1/provinces/cao-bang/agreements?agreement_id=slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\nAuthorization: Bearer %s\r\n\r\n", province.token)
		held = append(held, c)
	}
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("no answer to a request of the HTTP flood: %v", err)
		}
		answers[strings.TrimSpace(line)]++
	}
	if answers["HTTP/1.1 429 Too Many Requests"] != 1 || answers["HTTP/1.1 100 Continue"] != perAddress {
		t.Errorf("answers to %d requests from one address: %v, want %d asked for their bodies and one 429", perAddress+1, answers, perAddress)
	}

	// Two more flooding addresses fill the server's total: then a call
	// from any client closes its connection, and is not carried out,
	// though its message came with its headers.
	hold("127.0.0.4")
	hold("127.0.0.5")
	refused := 0
	for i := range 20 {
		_, err := province.api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
			Parent: "provinces/cao-bang", AgreementId: fmt.Sprintf("over-total-%d", i), Agreement: newAgreement("over the total")})
		switch codeOf(err) {
		case codes.Unavailable, codes.ResourceExhausted:
			refused++
		default:
			t.Errorf("a create once the flood holds the total: %v, want UNAVAILABLE or RESOURCE_EXHAUSTED", err)
		}
	}
	if refused == 0 {
		t.Fatal("no call refused once the flood holds the total")
	}

	// The flood's calls end with their connection, and give the caps back.
	flood.conn.Close()
	waitFor(t, 10*time.Second, "honest calls served again once the flood's calls ended", func() bool {
		return honest() == nil
	})
	for i := range 20 {
		name := fmt.Sprintf("provinces/cao-bang/agreements/over-total-%d", i)
		if _, err := province.api.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: name}); codeOf(err) != codes.NotFound {
			t.Errorf("%s, refused over the total: %v, want NotFound", name, err)
		}
	}
}

// heldMethod is the method of the calls holdCalls holds.
const heldMethod = "/provex.twinning.v1.TwinningService/ListAgreements"

// holdCalls opens n calls from from whose message never comes.
func holdCalls(t *testing.T, from, addr string, n int) *rawH2 {
	h := dialRawH2From(t, from, addr)
	for i := range n {
		h.call(uint32(2*i+1), addr, heldMethod, nil, false)
	}
	h.sync()
	return h
}

// TestCallFloodOfOneNetworkMakesRoom: calls whose message never comes,
// from one network's addresses, fill the server's calls in flight; a call
// from another network is served all the same: every gRPC call holds a
// stream, and the streams' listener resets the flood's connection holding
// the most to make room for it (TestStreamsFloodOfOneNetworkMakesRoom).
func TestCallFloodOfOneNetworkMakesRoom(t *testing.T) {
	const perAddress, total = 20, 60
	p := newPair(t, server.Limits{Calls: total, CallsPerAddress: perAddress,
		CallTimeout: 5 * time.Minute, ReadTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	addr := p.start("cao-bang").srv.GRPCAddr()
	var flood []*rawH2
	for _, from := range []string{"127.0.0.1", "127.0.0.4", "127.0.0.5"} {
		flood = append(flood, holdCalls(t, from, addr, perAddress))
	}
	for i := range 3 {
		h := dialRawH2From(t, "127.0.1.1", addr)
		h.call(1, addr, healthCheck, grpcMessage(0), true)
		if got := h.end(1, 10*time.Second); got != "0" {
			t.Fatalf("check %d from another network while one network's calls fill the server: grpc-status %s, want 0", i, got)
		}
	}
	closed := 0
	for _, h := range flood {
		if h.closed(time.Second) {
			closed++
		}
	}
	if closed == 0 || closed == len(flood) {
		t.Fatalf("%d of the flood's %d connections closed; want some, not all", closed, len(flood))
	}
}

// closed reports whether the node closes the connection within within,
// reading (and dropping) what it sends meanwhile.
func (h *rawH2) closed(within time.Duration) bool {
	h.conn.SetReadDeadline(time.Now().Add(within))
	for {
		if _, err := h.fr.ReadFrame(); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}

// sync waits until the node has read what was sent on the connection
// before it: it answers a PING after the frames before it.
func (h *rawH2) sync() {
	h.t.Helper()
	mustf(h.t, h.fr.WritePing(false, [8]byte{'s', 'y', 'n', 'c'}), "write PING")
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("no answer to PING: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				mustf(h.t, h.fr.WriteSettingsAck(), "ack SETTINGS")
			}
		case *http2.PingFrame:
			if f.IsAck() && f.Data == [8]byte{'s', 'y', 'n', 'c'} {
				return
			}
		}
	}
}

// TestCallOverTheCapIsNotCarriedOut: a call over the calls-in-flight caps
// whose message comes in the same packet as its headers is read before
// grpc-go finds its connection closed; it is refused, not carried out (the
// caller, seeing its connection closed, could not know it was).
func TestCallOverTheCapIsNotCarriedOut(t *testing.T) {
	p := newPair(t, server.Limits{CallsPerAddress: 1, CallTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	province := p.start("cao-bang")
	ctx := testCtx(t)
	addr := province.srv.GRPCAddr()
	flood := dialRawH2From(t, "127.0.0.1", addr)
	flood.call(1, addr, "/provex.twinning.v1.TwinningService/ListAgreements", nil, false)
	flood.sync()
	for i := range 20 {
		id := fmt.Sprintf("over-cap-%d", i)
		req, err := proto.Marshal(&twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", AgreementId: id, Agreement: newAgreement("over the cap")})
		mustf(t, err, "marshal")
		msg := append(grpcMessage(0)[:1], binary.BigEndian.AppendUint32(nil, uint32(len(req)))...)
		msg = append(msg, req...)
		over := dialRawH2From(t, "127.0.0.1", addr)
		over.call(1, addr, "/provex.twinning.v1.TwinningService/CreateAgreement", msg, true, [2]string{"authorization", "Bearer " + province.token})
		if !over.closed(10 * time.Second) {
			t.Fatalf("the connection of a call over the cap was not closed")
		}
		if _, err := province.api.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: "provinces/cao-bang/agreements/" + id}); codeOf(err) != codes.NotFound {
			t.Fatalf("%s, a create over the cap: %v, want NotFound (not carried out)", id, err)
		}
	}
}

// TestCallsOneAfterAnotherAtTheCap: a client at its cap of calls in flight
// that starts a call as soon as another has its answer is within the cap:
// the node gives a call's place back before it writes the answer. (Given
// back when grpc-go ended the call's context, a little after, the next
// call was found over the cap, and its connection reset.)
func TestCallsOneAfterAnotherAtTheCap(t *testing.T) {
	p := newPair(t, server.Limits{CallsPerAddress: 1})
	province := p.start("cao-bang")
	ctx := testCtx(t)
	for i := range 2000 {
		if _, err := province.api.Node.GetCaller(ctx, &nodev1.GetCallerRequest{}); err != nil {
			t.Fatalf("call %d, each made once the one before had its answer: %v", i, err)
		}
	}
	// Streams too (reflection's, as grpcurl opens them).
	reflectionStreamsInTurn(t, province.api.Conn(), 500)
}

// reflectionStreamsInTurn opens n reflection streams on conn, as grpcurl
// does, each once the one before has ended, and fails t unless every one
// is answered and ends.
func reflectionStreamsInTurn(t *testing.T, conn grpc.ClientConnInterface, n int) {
	t.Helper()
	ctx := testCtx(t)
	reflection := reflectionpb.NewServerReflectionClient(conn)
	for i := range n {
		stream, err := reflection.ServerReflectionInfo(ctx)
		mustf(t, err, "open stream %d", i)
		mustf(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}), "send on stream %d", i)
		mustf(t, stream.CloseSend(), "close stream %d", i)
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("stream %d, each opened once the one before had ended: %v", i, err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("stream %d: %v, want its end", i, err)
		}
	}
}
