package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

// TestTokenRevokedByAnotherProcess: THREATS A4 says a revocation made by
// another process (provex token revoke on a running node's data) takes
// effect within a second. The node reads a token again once its cached
// copy is a second old, so a call a second after the revocation, whatever
// the node cached before, is refused.
func TestTokenRevokedByAnotherProcess(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir)
	out, stderr, code := runCLI(t, bin, "", "", "token", "create", "--role", "viewer", "--label", "analyst", "--data", dir)
	id := regexp.MustCompile(`token (\S+) \(viewer\) created`).FindStringSubmatch(stderr)
	if code != 0 || id == nil {
		t.Fatalf("token create: exit %d, %q", code, stderr)
	}
	c, err := client.Dial(p.grpcAddr, client.WithToken(strings.TrimSpace(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list := func() error {
		_, err := c.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang"})
		return err
	}
	if err := list(); err != nil {
		t.Fatalf("the token before its revocation: %v", err)
	}
	// The node's copy of the token was read before this.
	cached := time.Now()
	if _, stderr, code := runCLI(t, bin, "", "", "token", "revoke", id[1], "--data", dir); code != 0 {
		t.Fatalf("token revoke by another process: exit %d, %q", code, stderr)
	}
	time.Sleep(time.Until(cached.Add(time.Second + 50*time.Millisecond)))
	err = list()
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a call a second after another process revoked its token: %v, want UNAUTHENTICATED saying revoked", err)
	}
}
