package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	"github.com/provex/provex/internal/validation"
)

func TestPanicsAndInternalErrorsAreMasked(t *testing.T) {
	v, err := validation.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	open := &guard{unprotected: true, limits: Limits{}.withDefaults(), rates: newRateLimiter(1e6, 1e6)}
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
