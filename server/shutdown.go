package server

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/tap"

	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/netlimit"
)

// The streams that end only when their callers end them, a health watch
// and a reflection session, end when the node shuts down: a graceful stop
// waits for its calls, and one watch (which every grpc-go client with
// health checking opens) held each stop for its whole timeout. So do
// peers' Pulls: one a peer stops reading (a hung peer, a link dropping
// packets) held each stop for its whole timeout too (an outside review),
// and the peer pulls again from its cursor.

// endedAtShutdown are the methods of the streams untilShutdown ends:
// server reflection's sessions and sync's Pull.
var endedAtShutdown = map[string]bool{
	reflectionpb.ServerReflection_ServerReflectionInfo_FullMethodName:      true,
	reflectionalphapb.ServerReflection_ServerReflectionInfo_FullMethodName: true,
	syncv1.SyncService_Pull_FullMethodName:                                 true,
}

// untilShutdown is a gRPC server's grpc.InTapHandle part that ends the
// reflection sessions and Pulls when shuttingDown is done. It is the
// stream's own context, on which its messages are read and sent: a
// reflection handler waits in Recv, a Pull to a peer that reads no more in
// Send, where a context an interceptor derives would not reach them.
func untilShutdown(shuttingDown context.Context) tap.ServerInHandle {
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		if !endedAtShutdown[info.FullMethodName] {
			return ctx, nil
		}
		ctx, cancel := context.WithCancel(ctx)
		// grpc-go cancels the stream's context when the stream ends,
		// which lets shuttingDown forget it.
		forget := context.AfterFunc(shuttingDown, cancel)
		context.AfterFunc(ctx, func() { forget() })
		return ctx, nil
	}
}

// healthService is grpc-go's health service whose watches end when
// shuttingDown is done, once they have sent what health.Server.Shutdown
// set. Their stream's own context cannot end them: grpc-go's Watch, handed
// NOT_SERVING and seeing its context end at once, may take either first
// and end without sending it.
type healthService struct {
	*health.Server
	shuttingDown context.Context
}

func (h healthService) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	ctx, end := context.WithCancel(stream.Context())
	defer end()
	w := &endingWatch{ServerStreamingServer: stream, ctx: ctx, end: end, said: -1}
	stop := context.AfterFunc(h.shuttingDown, w.shutDown)
	defer stop()
	return h.Server.Watch(req, w)
}

// endingWatch is a watch whose context ends once the node shuts down and
// the watch has said its last: a status other than SERVING.
// health.Server.Shutdown turns every service it knows NOT_SERVING before
// shuttingDown is done, so a watch that has said nothing yet, or SERVING,
// has NOT_SERVING still to send; one of a service unknown
// (SERVICE_UNKNOWN) hears no more.
type endingWatch struct {
	grpc.ServerStreamingServer[healthpb.HealthCheckResponse]
	ctx context.Context
	end context.CancelFunc

	mu           sync.Mutex
	said         healthpb.HealthCheckResponse_ServingStatus // -1 before the first
	shuttingDown bool
}

func (w *endingWatch) Context() context.Context { return w.ctx }

func (w *endingWatch) Send(r *healthpb.HealthCheckResponse) error {
	err := w.ServerStreamingServer.Send(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.said = r.GetStatus()
	w.endIfDone()
	return err
}

func (w *endingWatch) shutDown() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.shuttingDown = true
	w.endIfDone()
}

// endIfDone ends the watch if it has said its last; w.mu is held.
func (w *endingWatch) endIfDone() {
	if w.shuttingDown && w.said != -1 && w.said != healthpb.HealthCheckResponse_SERVING {
		w.end()
	}
}

// unreadAnswersGrace is how long a shutdown waits, once every call's
// handler has returned, for the answers still queued to be written before
// it drops them (their callers read no more).
const unreadAnswersGrace = time.Second

// grpcCallCaps is callCaps for a gRPC server's calls, which
// handlersReturned counts.
func (n *Node) grpcCallCaps(name string) *netlimit.Caps {
	c := n.callCaps(name)
	n.grpcCalls = append(n.grpcCalls, c)
	return c
}

// handlersReturned is closed once no call of the gRPC servers is in
// flight (its handler has returned, or it never reached one), or never if
// ctx ends first.
func (n *Node) handlersReturned(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			open := 0
			for _, c := range n.grpcCalls {
				total, _ := c.Open(netip.Addr{})
				open += total
			}
			if open == 0 {
				close(done)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return done
}
