package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// TestShutdownEndsEndlessStreams: streams that end only when their caller
// ends them (health watches on the API and on the peer endpoint, a server
// reflection stream) do not hold a shutdown. Their callers get NOT_SERVING
// and see their streams end, while a call in flight still finishes, and
// the node stops as soon as it has, far within ShutdownTimeout. One
// anonymous watch, which every grpc-go client with health checking opens,
// held every stop for the full 15 s, the node saying its calls had not
// finished in time (an outside review).
func TestShutdownEndsEndlessStreams(t *testing.T) {
	p := newPair(t, server.Limits{})
	cert, err := p.ca.IssueTLS("cao-bang", time.Now())
	mustf(t, err, "issue cao-bang's certificate")
	var logs testlog.Buffer
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) {
		c.Keys, c.Manifest, c.Cert, c.Peers = p.keys["cao-bang"], p.manifest, &cert, []string{resource.Ministry}
		c.ShutdownTimeout = 30 * time.Second
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	// The streams' own deadline: one the node does not end fails the
	// test then.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	watch := func(conn grpc.ClientConnInterface, where, service string, want healthpb.HealthCheckResponse_ServingStatus) healthpb.Health_WatchClient {
		w, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		mustf(t, err, "watch the health of the %s", where)
		if r, err := w.Recv(); err != nil || r.GetStatus() != want {
			t.Fatalf("the %s's first health: %v, %v; want %v", where, r, err, want)
		}
		return w
	}
	apiWatch := watch(tn.Conn(), "API", "", healthpb.HealthCheckResponse_SERVING)
	unknownWatch := watch(tn.Conn(), "unknown service", "no.such.Service", healthpb.HealthCheckResponse_SERVICE_UNKNOWN)
	ministry, err := p.ca.IssueTLS(resource.Ministry, time.Now())
	mustf(t, err, "issue the ministry's certificate")
	peerConn, err := grpc.NewClient(tn.Srv.PeerAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(ministry, p.pool, "cao-bang"))))
	mustf(t, err, "dial the peer endpoint")
	defer peerConn.Close()
	peerWatch := watch(peerConn, "peer endpoint", "", healthpb.HealthCheckResponse_SERVING)
	reflection, err := reflectionpb.NewServerReflectionClient(tn.Conn()).ServerReflectionInfo(ctx)
	mustf(t, err, "reflection stream")
	mustf(t, reflection.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}), "send ListServices")
	_, err = reflection.Recv()
	mustf(t, err, "receive ListServices")

	// A call in flight: its headers and the first bytes of its message, on
	// a connection the node serves already (one it has yet to accept, it
	// would close when it stops listening).
	h := dialRawH2(t, tn.Srv.GRPCAddr())
	message := grpcMessage(0)
	h.call(1, tn.Srv.GRPCAddr(), nodev1.NodeService_GetCaller_FullMethodName, message, true)
	if code := h.end(1, 5*time.Second); code != "0" {
		t.Fatalf("a call before the shutdown ended with grpc-status %s, want 0", code)
	}
	h.call(3, tn.Srv.GRPCAddr(), nodev1.NodeService_GetCaller_FullMethodName, message[:2], false)

	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		tn.Stop(t)
		close(stopped)
	}()
	for where, w := range map[string]healthpb.Health_WatchClient{"API": apiWatch, "peer endpoint": peerWatch} {
		if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("the %s's health at shutdown: %v, %v; want NOT_SERVING", where, r, err)
		}
		if r, err := w.Recv(); err == nil || codeOf(err) == codes.DeadlineExceeded {
			t.Errorf("the %s's health watch after NOT_SERVING: %v, %v; want it ended by the node", where, r, err)
		}
	}
	// Shutdown changes nothing of a service the node does not know.
	if r, err := unknownWatch.Recv(); err == nil || codeOf(err) == codes.DeadlineExceeded {
		t.Errorf("the unknown service's health watch at shutdown: %v, %v; want it ended by the node", r, err)
	}
	if r, err := reflection.Recv(); err == nil || codeOf(err) == codes.DeadlineExceeded {
		t.Errorf("the reflection stream at shutdown: %v, %v; want it ended by the node", r, err)
	}
	select {
	case <-stopped:
		t.Fatal("the node stopped before its call in flight finished")
	default:
	}
	mustf(t, h.fr.WriteData(3, true, message[2:]), "send the rest of the message")
	if code := h.end(3, 5*time.Second); code != "0" {
		t.Errorf("the call in flight at shutdown ended with grpc-status %s, want 0", code)
	}
	// Its client is done, and closes the connection the node drains.
	h.conn.Close()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Errorf("the node had not stopped 5 s after its last call finished")
	}
	<-stopped
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the node took %v to stop, its ShutdownTimeout 30 s; want under 5 s", took)
	}
	if strings.Contains(logs.String(), "did not finish in time") {
		t.Errorf("the node said its calls did not finish in time:\n%s", logs.String())
	}
}

// TestShutdownEndsAPullItsPeerStopsReading: a Pull whose peer reads no
// more (its flow-control window full) does not hold a shutdown either: the
// peer pulls again from its cursor. Three such Pulls held every stop for
// the whole ShutdownTimeout (an outside review: 16.6 s).
func TestShutdownEndsAPullItsPeerStopsReading(t *testing.T) {
	p := newPair(t, server.Limits{})
	cert, err := p.ca.IssueTLS("cao-bang", time.Now())
	mustf(t, err, "issue cao-bang's certificate")
	var logs testlog.Buffer
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) {
		c.Keys, c.Manifest, c.Cert = p.keys["cao-bang"], p.manifest, &cert
		c.ShutdownTimeout = 30 * time.Second
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx := testCtx(t)
	// 200 entries of about 1.5 KB: more than the window the peer opens.
	summary := strings.Repeat("hợp tác ", 200)
	createMany(t, ctx, tn, 200, func(i int) string { return fmt.Sprintf("a%d", i) }, func(int) *twinningv1.Agreement {
		a := newAgreement("long")
		a.Summary = summary
		return a
	})
	ministry, err := p.ca.IssueTLS(resource.Ministry, time.Now())
	mustf(t, err, "issue the ministry's certificate")
	conn, err := grpc.NewClient(tn.Srv.PeerAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(ministry, p.pool, "cao-bang"))),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	mustf(t, err, "dial the peer endpoint")
	defer conn.Close()
	pull, err := syncv1.NewSyncServiceClient(conn).Pull(ctx, &syncv1.PullRequest{Member: resource.Ministry, BatchSize: 1})
	mustf(t, err, "pull")
	_, err = pull.Recv()
	mustf(t, err, "the pull's first message")

	start := time.Now()
	tn.Stop(t)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the node took %v to stop, its ShutdownTimeout 30 s, with a pull its peer reads no more; want under 5 s", took)
	}
	if strings.Contains(logs.String(), "did not finish in time") {
		t.Errorf("the node said its calls did not finish in time:\n%s", logs.String())
	}
}

// TestPeerHealthWatchesLeaveRoomForPulls: a member's health watches on the
// peer endpoint, which its monitoring may hold open for good, are counted
// apart from its Pulls. They took the Pulls' places, and the member's sync
// stopped: "already has 4 pulls open" with none open (an outside review).
func TestPeerHealthWatchesLeaveRoomForPulls(t *testing.T) {
	const most = 2
	p := newPair(t, server.Limits{})
	cert, err := p.ca.IssueTLS("cao-bang", time.Now())
	mustf(t, err, "issue cao-bang's certificate")
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) {
		c.Keys, c.Manifest, c.Cert = p.keys["cao-bang"], p.manifest, &cert
		c.Limits.PullsPerPeer = most
	})
	ctx := testCtx(t)
	ministry, err := p.ca.IssueTLS(resource.Ministry, time.Now())
	mustf(t, err, "issue the ministry's certificate")
	conn, err := grpc.NewClient(tn.Srv.PeerAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(ministry, p.pool, "cao-bang"))))
	mustf(t, err, "dial the peer endpoint")
	defer conn.Close()
	for i := range most + 1 {
		w, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		switch {
		case i < most && err != nil:
			t.Fatalf("health watch %d of the peer's %d: %v", i+1, most, err)
		case i == most && (codeOf(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "health watches")):
			t.Errorf("a health watch past the peer's %d: %v, want RESOURCE_EXHAUSTED naming its health watches", most, err)
		}
	}
	pull, err := syncv1.NewSyncServiceClient(conn).Pull(ctx, &syncv1.PullRequest{Member: resource.Ministry})
	if err == nil {
		for err == nil {
			_, err = pull.Recv()
		}
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		t.Errorf("a pull beside the peer's %d health watches: %v, want it served", most, err)
	}
}
