package client_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/replication"
	"github.com/provex/provex/resource"
)

// TestClientRefusesWhatItCannotSend: a program's mistakes with the client
// panicked (a record of another kind, a nil record, a kind resource.KindOf
// did not find) or came back INTERNAL from gRPC's encoder (text that is not
// UTF-8), found by an outside review. Each is now an error, and nothing
// reaches the node: the server here counts every call that arrives.
func TestClientRefusesWhatItCannotSend(t *testing.T) {
	addr, calls := countingServer(t, codes.Unimplemented)
	c, err := client.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	unknown, _ := resource.KindOf("agreement") // singular: not a collection
	var nilAgreement *twinningv1.Agreement
	for what, call := range map[string]func() error{
		"a record of another kind": func() error {
			_, err := c.Create(ctx, "provinces/cao-bang", resource.Delegations, "", "", &twinningv1.Agreement{DisplayName: "x"})
			return err
		},
		"a nil record": func() error {
			_, err := c.Create(ctx, "provinces/cao-bang", resource.Agreements, "", "", nil)
			return err
		},
		"a typed nil record": func() error {
			_, err := c.Create(ctx, "provinces/cao-bang", resource.Agreements, "", "", nilAgreement)
			return err
		},
		"no kind": func() error {
			_, _, err := c.List(ctx, "provinces/cao-bang", unknown, client.ListOptions{})
			return err
		},
		"Update of nil":       func() error { _, err := c.Update(ctx, nil, nil); return err },
		"Update of typed nil": func() error { _, err := c.Update(ctx, nilAgreement, nil); return err },
	} {
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic %v", what, r)
				}
			}()
			return call()
		}()
		if err == nil {
			t.Errorf("%s: no error", what)
		}
	}
	_, err = c.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: "provinces/cao-bang/agreements/\xff"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "name is not valid UTF-8 text") {
		t.Errorf("a name that is not UTF-8: %v", err)
	}
	_, err = c.Create(ctx, "provinces/cao-bang", resource.Agreements, "", "", &twinningv1.Agreement{DisplayName: "ok", Fields: []string{"a", "b\xc3"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "agreement.fields[1] is not valid UTF-8 text") {
		t.Errorf("a list element that is not UTF-8: %v", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d calls reached the server", n)
	}
	// A good request does reach it.
	if _, err := c.Get(ctx, "provinces/cao-bang/agreements/a"); status.Code(err) != codes.Unimplemented || calls.Load() != 1 {
		t.Errorf("a good request: %v, %d calls", err, calls.Load())
	}
}

// A program that uses only this package reads the details a node sends
// with an error: their types are linked in with it.
func TestErrorDetailsDecode(t *testing.T) {
	for _, name := range []protoreflect.FullName{"google.rpc.BadRequest", "google.rpc.RetryInfo", "google.rpc.ErrorInfo"} {
		if _, err := protoregistry.GlobalTypes.FindMessageByName(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestServiceConfigOfTheResolverIsIgnored: the default resolver takes a
// service config from DNS (TXT _grpc_config.HOST), so whoever answered
// the DNS could have gRPC retry a Create without a request_id five times
// (an outside review). A resolver here gives a retry policy for
// UNAVAILABLE with the node's address: the call is made once.
func TestServiceConfigOfTheResolverIsIgnored(t *testing.T) {
	addr, calls := countingServer(t, codes.Unavailable)
	const retryFiveTimes = `{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.001s", "maxBackoff": "0.001s", "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`
	r := manual.NewBuilderWithScheme("hostile")
	r.BuildCallback = func(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) {
		r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addr}}, ServiceConfig: cc.ParseServiceConfig(retryFiveTimes)})
	}
	c, err := client.Dial(r.Scheme()+":///node.example", grpc.WithResolvers(r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Create(context.Background(), "provinces/cao-bang", resource.Agreements, "", "", &twinningv1.Agreement{DisplayName: "x"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("create: %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the create reached the node %d times, want once", n)
	}
}

// TestKeepaliveWithinTheNodesPolicy: the client's pings stay within what
// a node allows (server/listeners.go: replication.KeepaliveTime/2 between
// pings); more often, and the node would close the connection with GOAWAY
// too_many_pings, ending the calls on it.
func TestKeepaliveWithinTheNodesPolicy(t *testing.T) {
	if nodeMinTime := replication.KeepaliveTime / 2; client.KeepaliveTime < nodeMinTime {
		t.Errorf("client.KeepaliveTime %s is under the %s a node enforces between pings", client.KeepaliveTime, nodeMinTime)
	}
}

// countingServer serves gRPC on loopback until t ends, answering every
// call with code and counting the calls that reach it.
func countingServer(t *testing.T, code codes.Code) (string, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		calls.Add(1)
		return status.Error(code, "counted by the test")
	}))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), &calls
}
