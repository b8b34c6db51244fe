package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestHealthWatchSaysNotServingBeforeItEnds: a watch still sending SERVING
// when the node shuts down sends NOT_SERVING before it ends. grpc-go's
// Watch, finding NOT_SERVING and its context's end both ready, takes
// either: a watch whose context ended at shutdown lost NOT_SERVING about
// half the time. Twenty watches make that loss all but certain.
func TestHealthWatchSaysNotServingBeforeItEnds(t *testing.T) {
	for range 20 {
		hs := health.NewServer()
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		stream := &heldWatch{sending: make(chan struct{}), release: make(chan struct{})}
		// healthService.Watch's watch, told of the shutdown at once
		// rather than by context.AfterFunc's goroutine.
		ctx, end := context.WithCancel(context.Background())
		w := &endingWatch{ServerStreamingServer: stream, ctx: ctx, end: end, said: -1}
		done := make(chan error, 1)
		go func() { done <- hs.Watch(&healthpb.HealthCheckRequest{}, w) }()
		<-stream.sending // SERVING, held
		hs.Shutdown()
		w.shutDown()
		close(stream.release)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the watch did not end within 5 s of the shutdown")
		}
		want := []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING}
		if !slices.Equal(stream.sent, want) {
			t.Fatalf("the watch sent %v, want %v", stream.sent, want)
		}
	}
}

// heldWatch is a watch's stream whose first Send waits for release.
type heldWatch struct {
	grpc.ServerStreamingServer[healthpb.HealthCheckResponse]
	sending, release chan struct{}
	sent             []healthpb.HealthCheckResponse_ServingStatus
}

func (s *heldWatch) Send(r *healthpb.HealthCheckResponse) error {
	if len(s.sent) == 0 {
		close(s.sending)
		<-s.release
	}
	s.sent = append(s.sent, r.GetStatus())
	return nil
}
