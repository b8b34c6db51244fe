package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

// hostileNode answers as an outside review's fake node did: every page
// with a next_page_token (the same one, or with uniqueTokens a new one
// each time), and text full of terminal control sequences.
type hostileNode struct {
	twinningv1.UnimplementedTwinningServiceServer
	nationalv1.UnimplementedNationalServiceServer
	syncv1.UnimplementedSyncServiceServer
	uniqueTokens bool
	mu           sync.Mutex
	pages        int
}

func (h *hostileNode) token() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pages++
	if h.uniqueTokens {
		return fmt.Sprint("page-", h.pages)
	}
	return "same"
}

func (h *hostileNode) ListAgreements(context.Context, *twinningv1.ListAgreementsRequest) (*twinningv1.ListAgreementsResponse, error) {
	return &twinningv1.ListAgreementsResponse{Agreements: []*twinningv1.Agreement{{Name: "provinces/cao-bang/agreements/x"}}, NextPageToken: h.token()}, nil
}

func (h *hostileNode) GetAgreement(context.Context, *twinningv1.GetAgreementRequest) (*twinningv1.Agreement, error) {
	return nil, status.Error(codes.InvalidArgument, "bad\r\x1b[2K\x1b[32mOK: record created\x1b[0m\x1b]0;pwned\x07")
}

func (h *hostileNode) Summarize(context.Context, *nationalv1.SummarizeRequest) (*nationalv1.SummarizeResponse, error) {
	groups := make([]*nationalv1.Group, 10000)
	for i := range groups {
		groups[i] = &nationalv1.Group{Keys: []string{fmt.Sprint("k", i)}, Count: 1}
	}
	return &nationalv1.SummarizeResponse{GroupBy: []string{"province"}, Groups: groups, Total: &nationalv1.Group{}, NextPageToken: h.token()}, nil
}

func (h *hostileNode) SearchRecords(context.Context, *nationalv1.SearchRecordsRequest) (*nationalv1.SearchRecordsResponse, error) {
	return &nationalv1.SearchRecordsResponse{Records: []*nationalv1.Record{{Name: "provinces/cao-bang/agreements/y", Title: "t\x1b[2J\u202e"}}, NextPageToken: h.token()}, nil
}

func (h *hostileNode) GetSyncState(context.Context, *syncv1.GetSyncStateRequest) (*syncv1.GetSyncStateResponse, error) {
	return &syncv1.GetSyncStateResponse{Member: "cao-bang\x1b[2J", Peers: []*syncv1.PeerState{{Member: "nghe-an", LastError: "boom\r\x1b[2Kconverged: yes"}}}, nil
}

func serveHostile(t *testing.T, h *hostileNode) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	twinningv1.RegisterTwinningServiceServer(srv, h)
	nationalv1.RegisterNationalServiceServer(srv, h)
	syncv1.RegisterSyncServiceServer(srv, h)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	t.Setenv("PROVEX_TOKEN", "")
	t.Setenv("PROVEX_CA", "")
	return lis.Addr().String()
}

// TestRepeatedPageTokenEndsTheListing: a node answering the token it was
// sent made list --all loop for ever, national summary hold every page
// (987 MB after 26 s) and national search --all buffer them all without
// printing (an outside review). Each now stops with an error, search
// having printed the page it read.
func TestRepeatedPageTokenEndsTheListing(t *testing.T) {
	addr := serveHostile(t, &hostileNode{})
	for cmd, run := range map[string]func(context.Context, *Env, []string) error{
		"list": func(ctx context.Context, env *Env, args []string) error {
			return runList(ctx, env, append(args, "provinces/cao-bang/agreements", "--all"))
		},
		"summary": func(ctx context.Context, env *Env, args []string) error {
			return runNationalSummary(ctx, env, append(args, "projects"))
		},
		"search": func(ctx context.Context, env *Env, args []string) error {
			return runNationalSearch(ctx, env, append(args, "--all"))
		},
	} {
		var out bytes.Buffer
		err := run(context.Background(), &Env{Stdout: &out, Stderr: &out}, []string{"--addr", addr})
		if err == nil || !strings.Contains(FormatError(err), "the node repeats its page token") {
			t.Errorf("%s: %v", cmd, err)
		}
		if cmd == "search" && !strings.Contains(out.String(), "provinces/cao-bang/agreements/y") {
			t.Errorf("search printed nothing of the page it read:\n%s", out.String())
		}
	}
}

// TestSummaryGroupsAreBounded: a node answering a new token with every
// page made national summary hold every page's groups; past
// MaxSummaryGroups it stops with an error.
func TestSummaryGroupsAreBounded(t *testing.T) {
	h := &hostileNode{uniqueTokens: true}
	addr := serveHostile(t, h)
	var out bytes.Buffer
	err := runNationalSummary(context.Background(), &Env{Stdout: &out, Stderr: &out}, []string{"projects", "--addr", addr})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d groups", MaxSummaryGroups)) {
		t.Errorf("summary of endless pages: %v", err)
	}
	if h.pages > MaxSummaryGroups/10000+1 {
		t.Errorf("%d pages read", h.pages)
	}
}

// TestServerTextCannotDriveTheTerminal: control characters in a node's
// error and in sync status's last_error reached the terminal, where
// "\r\x1b[2K" rewrote the line (an outside review). They are printed
// escaped.
func TestServerTextCannotDriveTheTerminal(t *testing.T) {
	addr := serveHostile(t, &hostileNode{})
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &out}
	msg := FormatError(runGet(context.Background(), env, []string{"provinces/cao-bang/agreements/a", "--addr", addr}))
	if err := runSync(context.Background(), env, []string{"status", "--addr", addr}); err != nil {
		t.Fatal(err)
	}
	if err := runNationalSearch(context.Background(), env, []string{"--addr", addr}); err != nil {
		t.Fatal(err)
	}
	printed := msg + out.String()
	for _, c := range printed {
		if c == '\x1b' || c == '\r' || c == '\x07' || c == '\u202e' {
			t.Fatalf("a control character %q reached the terminal:\n%q", c, printed)
		}
	}
	for _, want := range []string{`bad\r\x1b[2K\x1b[32mOK: record created`, `cao-bang\x1b[2J`, `boom\r\x1b[2Kconverged: yes`, `t\x1b[2J\u202e`} {
		if !strings.Contains(printed, want) {
			t.Errorf("%s is not printed escaped:\n%s", want, printed)
		}
	}
}

// TestSilentNodeTimesOut: a node that takes a call and never answers held
// the command for ever (an outside review). Each call waits --timeout,
// a minute unless told otherwise.
func TestSilentNodeTimesOut(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		deadline, ok := stream.Context().Deadline()
		if !ok {
			return status.Error(codes.FailedPrecondition, "the call has no deadline")
		}
		if left := time.Until(deadline); left > time.Second {
			return status.Errorf(codes.FailedPrecondition, "deadline in %s", left.Round(time.Minute))
		}
		<-stream.Context().Done() // never answers
		return stream.Context().Err()
	}))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	t.Setenv("PROVEX_TOKEN", "")
	t.Setenv("PROVEX_CA", "")
	get := func(args ...string) string {
		err := runGet(context.Background(), &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, append(args, "provinces/cao-bang/agreements/a", "--addr", lis.Addr().String()))
		return FormatError(err)
	}
	if got := get(); got != "FAILED_PRECONDITION: deadline in 1m0s" {
		t.Errorf("by default: %s", got)
	}
	if got := get("--timeout", "100ms"); !strings.HasPrefix(got, "DEADLINE_EXCEEDED: ") || !strings.HasSuffix(got, "(no answer within --timeout 100ms)") {
		t.Errorf("--timeout 100ms: %s", got)
	}
	if got := get("--timeout", "0"); got != "FAILED_PRECONDITION: the call has no deadline" {
		t.Errorf("--timeout 0: %s", got)
	}
}
