package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/tap"

	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
)

// TestDeadlinesByKindOfMethod: the tap tells streaming methods from unary
// ones by what the server registered, and gives each its own bound; a
// caller's sooner deadline stays.
func TestDeadlinesByKindOfMethod(t *testing.T) {
	g := grpc.NewServer()
	healthpb.RegisterHealthServer(g, health.NewServer())
	nodev1.RegisterNodeServiceServer(g, nodev1.UnimplementedNodeServiceServer{})
	d := &deadlines{call: time.Minute, stream: time.Hour, streaming: map[string]bool{}}
	d.learn(g)
	for _, c := range []struct {
		method   string
		min, max time.Duration
	}{
		{healthpb.Health_Check_FullMethodName, 0, 2 * time.Minute},
		{nodev1.NodeService_GetCaller_FullMethodName, 0, 2 * time.Minute},
		{"/no.Such/Method", 0, 2 * time.Minute},
		{healthpb.Health_Watch_FullMethodName, 30 * time.Minute, 2 * time.Hour},
	} {
		ctx, err := d.tap(context.Background(), &tap.Info{FullMethodName: c.method})
		if err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		dl, ok := ctx.Deadline()
		if left := time.Until(dl); !ok || left < c.min || left > c.max {
			t.Errorf("%s: deadline in %v (set: %v), want between %v and %v", c.method, left, ok, c.min, c.max)
		}
	}
	soon, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ctx, _ := d.tap(soon, &tap.Info{FullMethodName: healthpb.Health_Watch_FullMethodName})
	if dl, _ := ctx.Deadline(); time.Until(dl) > time.Minute {
		t.Errorf("the caller's deadline of 1s became %v", time.Until(dl))
	}
}
