package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/auth"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	"github.com/provex/provex/internal/validation"
)

func TestPanicsAndInternalErrorsAreMasked(t *testing.T) {
	v, err := validation.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	open := &guard{unprotected: true, policy: auth.DefaultPolicy(), limits: Limits{}.withDefaults(), rates: newRateLimiter(1e6, 1e6, 0), byAddress: newRateLimiter(1e6, 1e6, maxRateBuckets)}
	ic := &interceptors{log: slog.New(slog.NewJSONHandler(&logs, nil)), validator: v, guard: open, codec: newRequestCodec()}
	info := &grpc.UnaryServerInfo{FullMethod: "/provex.node.v1.NodeService/GetNodeInfo"}
	for name, handler := range map[string]grpc.UnaryHandler{
		"panic":    func(context.Context, any) (any, error) { panic("secret table state") },
		"internal": func(context.Context, any) (any, error) { return nil, errors.New("secret table state") },
	} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			resp, err := ic.unary()(context.Background(), &nodev1.GetNodeInfoRequest{}, info, handler)
			st := status.Convert(err)
			if resp != nil || st.Code() != codes.Internal {
				t.Fatalf("got %v, %v; want INTERNAL", resp, err)
			}
			if strings.Contains(st.Message(), "secret") || !strings.Contains(st.Message(), "reference") {
				t.Fatalf("client sees %q: the detail must stay in the log, a reference must be given", st.Message())
			}
			ref := st.Message()[strings.Index(st.Message(), "reference ")+len("reference ") : len(st.Message())-1]
			if !strings.Contains(logs.String(), "secret table state") || !strings.Contains(logs.String(), ref) {
				t.Fatalf("log lacks the detail or the reference %q: %s", ref, logs.String())
			}
		})
	}
}

// TestChainOrder: the metrics see the code the client sees (a panic and an
// internal error count as INTERNAL, not as the raw error's UNKNOWN), and a
// request's bytes are forgotten by the codec even when the guard refuses
// its call, which it does before they are decoded.
func TestChainOrder(t *testing.T) {
	v, err := validation.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	calls := grpcprom.NewServerMetrics()
	reg.MustRegister(calls)
	ic := &interceptors{log: slog.New(slog.DiscardHandler), validator: v, codec: newRequestCodec(), metrics: calls,
		guard: &guard{policy: auth.DefaultPolicy(), limits: Limits{}.withDefaults(), rates: newRateLimiter(1e6, 1e6, 0), byAddress: newRateLimiter(1e6, 1e6, maxRateBuckets)}}
	unary := ic.unary()
	info := &grpc.UnaryServerInfo{FullMethod: "/provex.node.v1.NodeService/GetNodeInfo"}
	open := &interceptors{log: ic.log, validator: v, codec: ic.codec, metrics: calls, guard: &guard{unprotected: true, limits: Limits{}.withDefaults(), rates: newRateLimiter(1e6, 1e6, 0), byAddress: newRateLimiter(1e6, 1e6, maxRateBuckets)}}
	openUnary := open.unary()
	openUnary(context.Background(), &nodev1.GetNodeInfoRequest{}, info, func(context.Context, any) (any, error) { panic("boom") })
	openUnary(context.Background(), &nodev1.GetNodeInfoRequest{}, info, func(context.Context, any) (any, error) { return nil, errors.New("boom") })

	req := &nodev1.GetNodeInfoRequest{}
	ic.codec.kept.Store(req, []byte{0xff, 0xff})
	_, err = unary(context.Background(), req, info, func(context.Context, any) (any, error) { return &nodev1.GetNodeInfoResponse{}, nil })
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("an anonymous malformed call: %v, want UNAUTHENTICATED (the guard before validation)", err)
	}
	if _, kept := ic.codec.kept.Load(req); kept {
		t.Error("the codec still holds the refused call's request")
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "grpc_server_handled_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_code" {
					counts[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if counts["Internal"] != 2 || counts["Unauthenticated"] != 1 || len(counts) != 2 {
		t.Errorf("calls counted by code %v, want Internal 2 and Unauthenticated 1", counts)
	}
}
