package server_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/provex/provex/server"
)

// TestOpenMethodsBoundTheirRequests: a request of a method open to
// callers without credentials (health, reflection, GetCaller) over 1 KiB
// is RESOURCE_EXHAUSTED before it is decoded, unary or streamed, so an
// anonymous Health.Watch cannot keep a service name of megabytes for as
// long as its stream is open (50 such streams held 255 MB; an outside
// review). Requests within the bound are served.
func TestOpenMethodsBoundTheirRequests(t *testing.T) {
	t.Parallel()
	tn := startSecNode(t, "cao-bang", nil)
	ctx := testCtx(t)
	anon := dialAs(t, tn.Srv.GRPCAddr(), "")
	health := healthpb.NewHealthClient(anon.Conn())
	big := strings.Repeat("a", 4<<10)

	_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: big})
	wantDenied(t, err, codes.ResourceExhausted, "a health check naming a service of 4 KiB", "at most 1024 bytes")
	watch, err := health.Watch(ctx, &healthpb.HealthCheckRequest{Service: big})
	mustf(t, err, "open Watch")
	_, err = watch.Recv()
	wantDenied(t, err, codes.ResourceExhausted, "a Watch naming a service of 4 KiB", "at most 1024 bytes")
	reflection, err := reflectionpb.NewServerReflectionClient(anon.Conn()).ServerReflectionInfo(ctx)
	mustf(t, err, "open a reflection stream")
	mustf(t, reflection.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: big}}), "send")
	_, err = reflection.Recv()
	wantDenied(t, err, codes.ResourceExhausted, "a reflection request naming a symbol of 4 KiB", "at most 1024 bytes")
	addr := tn.Srv.GRPCAddr()
	h := dialRawH2(t, addr)
	h.call(1, addr, "/provex.node.v1.NodeService/GetCaller", grpcMessage(2<<10), true)
	if code, message := h.endStatus(1, 10*time.Second); code != strconv.Itoa(int(codes.ResourceExhausted)) || !strings.Contains(message, "at most 1024 bytes") {
		t.Errorf("GetCaller with a request of 2 KiB: grpc-status %s %q, want RESOURCE_EXHAUSTED saying the bound", code, message)
	}

	hr, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("a health check within the bound: %v, %v", hr, err)
	}
	watch, err = health.Watch(ctx, &healthpb.HealthCheckRequest{Service: strings.Repeat("a", 900)})
	mustf(t, err, "open Watch")
	if hr, err := watch.Recv(); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("a Watch naming a service of 900 bytes: %v, %v; want SERVICE_UNKNOWN", hr, err)
	}
	reflection, err = reflectionpb.NewServerReflectionClient(anon.Conn()).ServerReflectionInfo(ctx)
	mustf(t, err, "open a reflection stream")
	mustf(t, reflection.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "provex.twinning.v1.TwinningService"}}), "send")
	if rr, err := reflection.Recv(); err != nil || rr.GetFileDescriptorResponse() == nil {
		t.Fatalf("a reflection request within the bound: %v, %v", rr, err)
	}
}

// TestOpenStreamsMessagesTakeTurns: each message of a stream of a method
// open to all after its first takes a turn of its caller's rate limit, as
// a call does: one anonymous reflection stream asking again and again
// had 8,111 answers, 201 MB, in 20 s, metered by nothing (an outside
// review).
func TestOpenStreamsMessagesTakeTurns(t *testing.T) {
	t.Parallel()
	const burst = 5
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits = server.Limits{RatePerSecond: 0.001, Burst: burst} })
	ctx := testCtx(t)
	reflection, err := reflectionpb.NewServerReflectionClient(dialAs(t, tn.Srv.GRPCAddr(), "").Conn()).ServerReflectionInfo(ctx)
	mustf(t, err, "open a reflection stream")
	// The stream's call takes one turn, its first message none, each
	// other one: the burst's last turn goes to message burst-1.
	for i := 0; ; i++ {
		mustf(t, reflection.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}), "send request %d", i)
		_, err := reflection.Recv()
		if err == nil && i < burst {
			continue
		}
		if i != burst {
			t.Fatalf("request %d on one anonymous stream, with a burst of %d calls: %v; want RESOURCE_EXHAUSTED from request %d on", i, burst, err, burst)
		}
		wantDenied(t, err, codes.ResourceExhausted, "a reflection request past the caller's rate", "faster than")
		return
	}
}
