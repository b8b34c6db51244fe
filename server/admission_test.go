package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
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
// holder's, past validation.MaxElements, INVALID_ARGUMENT, undecoded too.
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

	// A token holder's is admitted, and refused unread too: no request of
	// the API holds more than validation.MaxElements elements (eight such
	// calls of an admin held a node at 5 GB: an outside review).
	grpcBytes := allocated(func() {
		err = grpcCall(tn.Token)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "agreement.foreign_parties") || !strings.Contains(err.Error(), "more than 10000 elements") {
			t.Errorf("the admin's gRPC create: %v, want INVALID_ARGUMENT naming agreement.foreign_parties", err)
		}
	})
	var httpAnswer []byte
	httpBytes := allocated(func() {
		var code int
		code, httpAnswer = secHTTP(t, tn, nil, http.MethodPost, "/v1/provinces/cao-bang/agreements", body, tn.Token)
		if code != http.StatusBadRequest || !strings.Contains(string(httpAnswer), "agreement.foreign_parties") {
			t.Errorf("the admin's HTTP create: %d %.300s, want 400 naming agreement.foreign_parties", code, httpAnswer)
		}
	})
	if grpcBytes > bound || httpBytes > bound {
		t.Errorf("the admin's creates of %d elements made the node allocate %d MB over gRPC and %d MB over HTTP, want them refused unread (at most %d MB)",
			elements, grpcBytes>>20, httpBytes>>20, bound>>20)
	}
}

// TestTokenRevokedWhileItsBodyComesIsRefused: a call over HTTP is admitted
// from its headers, before its body is read; a token revoked (or expired)
// before the body has come must not write, as it did not before admission
// moved (an outside review wrote with an expired one). Expiry and
// revocation are checked on every call as it runs (A4).
func TestTokenRevokedWhileItsBodyComesIsRefused(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	token, err := tn.Srv.IssueToken(ctx, auth.RoleEditor, "revoked while its body comes", time.Time{})
	mustf(t, err, "issue")
	body := `{"display_name": "written after revocation", "kind": "KIND_MOU"}`
	c, err := net.Dial("tcp", strings.TrimPrefix(tn.BaseURL, "http://"))
	mustf(t, err, "dial")
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/provinces/cao-bang/agreements?agreement_id=after-revocation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\nAuthorization: Bearer %s\r\n\r\n", len(body), token)
	// The node asks for the body when the gateway begins to read it: the
	// call has been admitted from its headers by then.
	answers := bufio.NewReader(c)
	resp, err := http.ReadResponse(answers, nil)
	mustf(t, err, "read the node's first answer")
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("the node answered the headers %d, want 100 (asking for the body)", resp.StatusCode)
	}
	mustf(t, tn.Srv.Store().RevokeToken(ctx, tokenID(t, token), time.Now()), "revoke")
	fmt.Fprint(c, body)
	resp, err = http.ReadResponse(answers, nil)
	mustf(t, err, "read the answer")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a create whose token was revoked before its body came: %d, want 401", resp.StatusCode)
	}
	if _, err := tn.Get(ctx, "provinces/cao-bang/agreements/after-revocation"); status.Code(err) != codes.NotFound {
		t.Errorf("the record of a revoked token's create: %v, want NOT_FOUND", err)
	}
}
