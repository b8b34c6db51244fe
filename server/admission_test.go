package server_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// TestBodiesDecodedOnlyOnceAdmitted: a request's cost to decode is not its
// size. 2 MB of empty repeated elements are a million messages, some 170
// MB allocated and a second or two of CPU, and a node used to decode them
// before it looked at the caller's token: over gRPC grpc-go unmarshals a
// request before any interceptor runs, over HTTP grpc-gateway decodes the
// body before it calls. Calls without a token, or with a wrong one, are
// now refused UNAUTHENTICATED (401) with their request undecoded; a token
// holder's are decoded (and refused by validation).
func TestBodiesDecodedOnlyOnceAdmitted(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	const elements = 1_000_000
	req, err := proto.Marshal(&twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang",
		Agreement: &twinningv1.Agreement{DisplayName: "many parties", Kind: twinningv1.Agreement_KIND_MOU, ForeignParties: make([]*typev1.ForeignParty, elements)}})
	mustf(t, err, "marshal")
	body := `{"display_name": "many parties", "kind": "KIND_MOU", "foreign_parties": [{}` + strings.Repeat(`,{}`, elements*2/3) + `]}`

	conn, err := grpc.NewClient(tn.Srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallSendMsgSize(8<<20)))
	mustf(t, err, "dial")
	t.Cleanup(func() { conn.Close() })
	const method = "/provex.twinning.v1.TwinningService/CreateAgreement"
	grpcCall := func(token string) error {
		ctx := ctx
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		var out []byte
		return conn.Invoke(ctx, method, &req, &out)
	}
	httpCall := func(token string) int {
		code, _ := secHTTP(t, tn, nil, http.MethodPost, "/v1/provinces/cao-bang/agreements", body, token)
		return code
	}
	const wrongToken = "pvx_0000000000000000_000000000000000000000000000000000000000000000000"

	// What the node allocates for each refused call: the message's bytes
	// as they come (a few copies of 3 MB), not its decoding.
	allocated := func(calls func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		calls()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const bound = 24 << 20
	for _, token := range []string{"", wrongToken} {
		grpcBytes := allocated(func() {
			if err := grpcCall(token); status.Code(err) != codes.Unauthenticated {
				t.Errorf("gRPC create with token %q: %v, want UNAUTHENTICATED", token, err)
			}
		})
		httpBytes := allocated(func() {
			if code := httpCall(token); code != http.StatusUnauthorized {
				t.Errorf("HTTP create with token %q: %d, want 401", token, code)
			}
		})
		if grpcBytes > bound || httpBytes > bound {
			t.Errorf("a create of %d elements with token %q made the node allocate %d MB over gRPC and %d MB over HTTP; its request must not be decoded (at most %d MB)",
				elements, token, grpcBytes>>20, httpBytes>>20, bound>>20)
		}
	}

	// The admin's is decoded, which the measure sees: validation names an
	// element.
	grpcBytes := allocated(func() {
		err = grpcCall(tn.Token)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "foreign_parties") {
			t.Errorf("the admin's gRPC create: %v, want INVALID_ARGUMENT naming foreign_parties", err)
		}
	})
	httpBytes := allocated(func() {
		if code := httpCall(tn.Token); code != http.StatusBadRequest {
			t.Errorf("the admin's HTTP create: %d, want 400", code)
		}
	})
	if grpcBytes < bound || httpBytes < bound {
		t.Errorf("the admin's creates, decoded, allocated %d MB over gRPC and %d MB over HTTP: the measure cannot tell decoding (bound %d MB)",
			grpcBytes>>20, httpBytes>>20, bound>>20)
	}
}
