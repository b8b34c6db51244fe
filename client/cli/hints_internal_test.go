package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestNodesHelpExampleIsANodesFile: the example line in sync status's
// --nodes help, copied into a file, is read as the entry it shows. It
// read "- member: cao-bang, addr: localhost:7400, ...", which YAML reads
// as one string (an outside review).
func TestNodesHelpExampleIsANodesFile(t *testing.T) {
	err := runSync(context.Background(), &Env{Stdout: io.Discard, Stderr: io.Discard}, []string{"status", "--help"})
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Flags == nil || ue.Flags.Lookup("nodes") == nil {
		t.Fatalf("sync status --help: %v, want its flags", err)
	}
	help := ue.Flags.Lookup("nodes").Usage
	example := regexp.MustCompile(`- \{[^}]*\}`).FindString(help)
	if example == "" {
		t.Fatalf("--nodes help shows no entry: %s", help)
	}
	file := filepath.Join(t.TempDir(), "nodes.yaml")
	if err := os.WriteFile(file, []byte(example+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes, err := readNodes(file)
	if err != nil {
		t.Fatalf("the example %q: %v", example, err)
	}
	n := nodes["cao-bang"]
	if len(nodes) != 1 || n.Addr != "localhost:7400" || filepath.Base(n.TokenFile) != "cao-bang.token" || filepath.Base(n.CAFile) != "ca.pem" {
		t.Errorf("the example %q reads as %+v", example, nodes)
	}
}

// TestTokenHintNamesWhereTheTokenCameFrom: a refused token is to be
// changed where the command took it: PROVEX_TOKEN, or a member's
// token_file in sync status --all; a refusal for another reason than the
// token's role gets no hint, and the status keeps its details.
func TestTokenHintNamesWhereTheTokenCameFrom(t *testing.T) {
	call := func(src tokenSource, refusal error) string {
		err := tokenHint(src)(context.Background(), "/m", nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return refusal })
		return FormatError(err)
	}
	unauth := status.Error(codes.Unauthenticated, "token has expired")
	if got, want := call(tokenFromEnvironment, unauth), "UNAUTHENTICATED: token has expired (set PROVEX_TOKEN to a token of this node: provex token create makes one there)"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := call("/etc/provex/mofa.token", unauth); !strings.HasSuffix(got, "(put a token of this node in /etc/provex/mofa.token: provex token create makes one there)") {
		t.Errorf("a token file's token: %q", got)
	}
	admin, err := status.New(codes.PermissionDenied, "editor tokens may not call GetSyncState; it needs an admin token").
		WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "f", Description: "d"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := call(tokenFromEnvironment, admin.Err()); !strings.HasSuffix(got, "(set PROVEX_TOKEN to such a token of this node: provex token create --role admin makes one there) [f: d]") {
		t.Errorf("an editor's token for an admin's call: %q", got)
	}
	other := status.Error(codes.PermissionDenied, "cao-bang's node writes no record of lang-son")
	if got := call(tokenFromEnvironment, other); strings.Contains(got, "PROVEX_TOKEN") {
		t.Errorf("a refusal not of the token's role: %q", got)
	}
}
