package server_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// TestCallFlood: clients with no token open calls whose headers arrive
// and whose message never does, which hold a goroutine and buffers each
// until their deadline (256 on each connection; at 4096 connections a
// million of them, gigabytes). Each client holds at most CallsPerAddress
// calls in flight, over gRPC and over HTTP, the server at most Calls; a
// call over a cap is refused at once with RESOURCE_EXHAUSTED, honest
// callers from other addresses get through while the flood is within the
// total, and the caps are given back when the calls end.
func TestCallFlood(t *testing.T) {
	const perAddress, total = 20, 60
	p := newPair(t, server.Limits{Calls: total, CallsPerAddress: perAddress,
		CallTimeout: 5 * time.Minute, ReadTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute})
	province := p.start("cao-bang")
	ctx := testCtx(t)
	addr := province.srv.GRPCAddr()
	const method = "/provex.twinning.v1.TwinningService/ListAgreements"
	exhausted := strconv.Itoa(int(codes.ResourceExhausted))
	honest := func() error {
		_, err := province.api.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang"})
		return err
	}

	// Calls that never send their message, from 127.0.0.1: up to the cap
	// they wait; the next is refused at once.
	flood := dialRawH2From(t, "127.0.0.1", addr)
	id := uint32(1)
	for range perAddress {
		flood.call(id, addr, method, nil, false)
		id += 2
	}
	flood.call(id, addr, method, nil, false)
	if got := flood.end(id, 10*time.Second); got != exhausted {
		t.Fatalf("call %d over the cap of one address: grpc-status %q, want RESOURCE_EXHAUSTED (%s)", perAddress+1, got, exhausted)
	}
	if err := honest(); err != nil {
		t.Fatalf("an honest call from another address during the flood: %v", err)
	}

	// Over HTTP too: requests whose body never comes count as calls.
	for range perAddress {
		slowBody(t, province.srv.HTTPAddr(), "no token")
	}
	waitFor(t, 10*time.Second, "the HTTP request over the cap refused with 429", func() bool {
		c, err := fromAddr("127.0.0.1").Dial("tcp", province.srv.HTTPAddr())
		if err != nil {
			return false
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /v1/provinces/cao-bang/agreements HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("X-Request-Id") != ""
	})

	// Two more flooding addresses fill the server's total: then a call
	// from any client is refused.
	for _, from := range []string{"127.0.0.4", "127.0.0.5"} {
		h := dialRawH2From(t, from, addr)
		for i := range perAddress {
			h.call(uint32(2*i+1), addr, method, nil, false)
		}
		h.call(uint32(2*perAddress+1), addr, method, nil, false)
		if got := h.end(uint32(2*perAddress+1), 10*time.Second); got != exhausted {
			t.Fatalf("%s: call %d over the cap of one address: grpc-status %q, want %s", from, perAddress+1, got, exhausted)
		}
	}
	waitFor(t, 10*time.Second, "an honest call refused once the flood holds the total", func() bool {
		return codeOf(honest()) == codes.ResourceExhausted
	})

	// The flood's calls end with their connections, and give the caps back.
	flood.conn.Close()
	waitFor(t, 10*time.Second, "honest calls served again once the flood's calls ended", func() bool {
		return honest() == nil
	})
}
