package server_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// TestRestoreStoppedAfterOpenHoldsWrites: a restore stopped as soon as its
// store is open (killed there) leaves a store whose node refuses writes,
// saying the restore did not finish, until a restore run again finishes.
// The hold was written after the store was made and claimed: a restore
// killed between left a store whose node wrote seq 1 of a log its peers
// held, forking it (an outside review).
func TestRestoreStoppedAfterOpenHoldsWrites(t *testing.T) {
	p := newPair(t, server.Limits{})
	dir := t.TempDir()
	cert, err := p.ca.IssueTLS("cao-bang", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The ministry does not run: the restore reaches nobody.
	restore := server.Config{Member: "cao-bang", DataDir: dir, Keys: p.keys["cao-bang"], Manifest: p.manifest, Cert: &cert, Logger: slog.New(slog.DiscardHandler)}
	killed := errors.New("killed")
	server.StopRestoreAfterOpen(t, killed)
	if _, err := server.Restore(testCtx(t), restore, server.RestoreOptions{}); !errors.Is(err, killed) {
		t.Fatalf("the restore stopped after its store opened: %v", err)
	}
	serve := func(cfg *server.Config) {
		cfg.Keys, cfg.Manifest, cfg.Cert = p.keys["cao-bang"], p.manifest, &cert
	}
	create := func(n *testNode, id string) error {
		_, err := n.Twinning.CreateAgreement(testCtx(t), &twinningv1.CreateAgreementRequest{
			Parent: "provinces/cao-bang", AgreementId: id, Agreement: newAgreement(id),
		})
		return err
	}
	n := startNodeWith(t, "cao-bang", dir, serve)
	if err := create(n, "too-soon"); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("a write on the store of a restore stopped after its open: %v, want UNAVAILABLE saying it did not finish", err)
	}
	n.Stop(t)

	server.StopRestoreAfterOpen(t, nil)
	got, err := server.Restore(testCtx(t), restore, server.RestoreOptions{AcceptUnreached: true})
	if err != nil {
		t.Fatalf("the restore run again: %v", err)
	}
	if got.Held != "" {
		t.Fatalf("the restore run again left writes held: %s", got.Held)
	}
	n = startNodeToken(t, "cao-bang", dir, serve, n.Token)
	if err := create(n, "after"); err != nil {
		t.Fatalf("a write after the restore finished: %v", err)
	}
}
