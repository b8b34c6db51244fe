package server_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/server"
)

// TestNodeCertificateTheCADoesNotVerifyIsRefused: a node whose certificate
// names the manifest's CA as its issuer but does not verify with it (a
// byte of its signature changed) is refused at start, serve and restore
// alike, saying to issue it again; it started, health ok, and every peer
// refused it at every handshake, the node logging only connections reset
// (an outside review). A certificate of a CA the manifest does not hold yet
// (a CA being replaced: THREATS N17) starts the node, with a warning: its
// peers on the newer manifest accept it, and the node takes that from them.
func TestNodeCertificateTheCADoesNotVerifyIsRefused(t *testing.T) {
	p := newPair(t, server.Limits{})
	good, err := p.ca.IssueTLS("cao-bang", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	damaged := tls.Certificate{Certificate: [][]byte{append([]byte(nil), good.Certificate[0]...)}, PrivateKey: good.PrivateKey}
	der := damaged.Certificate[0]
	der[len(der)-5] ^= 0x01 // in the signature, the DER's last field
	cfg := func(cert *tls.Certificate, log *slog.Logger) server.Config {
		return server.Config{
			Member: "cao-bang", DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Keys: p.keys["cao-bang"], Manifest: p.manifest, Cert: cert, PlaintextAPI: true, Logger: log,
		}
	}
	discard := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	if _, err := server.New(ctx, cfg(&damaged, discard)); err == nil || !strings.Contains(err.Error(), "provex ca issue --member cao-bang") {
		t.Errorf("a node started with a certificate its CA does not verify: %v, want refused saying to issue it again", err)
	}
	if _, err := server.Restore(ctx, cfg(&damaged, discard), server.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "provex ca issue --member cao-bang") {
		t.Errorf("a restore with a certificate its CA does not verify: %v, want refused saying to issue it again", err)
	}

	newCA, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ofNewCA, err := newCA.IssueTLS("cao-bang", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) {
		c.Keys, c.Manifest, c.Cert, c.Logger = p.keys["cao-bang"], p.manifest, &ofNewCA, slog.New(slog.NewTextHandler(&logs, nil))
	})
	if !strings.Contains(logs.String(), "the node certificate is of a CA the federation manifest does not hold") {
		t.Errorf("the node said nothing of its certificate of another CA:\n%s", logs.String())
	}
}
