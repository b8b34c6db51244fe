// Package servertest starts real provex nodes for the tests of the
// packages that serve through them (services, the dashboard): each node on
// its own SQLite file, serving gRPC and HTTP on loopback, syncing with the
// others over mutual TLS under a development federation manifest.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// Node is a running node as its callers reach it.
type Node struct {
	// Conn is a gRPC connection to the node carrying Token.
	Conn *grpc.ClientConn
	// HTTP is the host:port of its HTTP/JSON gateway.
	HTTP string
	// Token is an editor's bearer token of the node.
	Token string
}

// Federation runs a node per province and one for the ministry, the
// provinces syncing through the ministry's node, as deployed. The nodes
// stop when t ends.
func Federation(t testing.TB, provinces ...string) map[string]Node {
	t.Helper()
	members := append(append([]string(nil), provinces...), resource.Ministry)
	addrs, err := freeport.Addrs(len(members))
	if err != nil {
		t.Fatal(err)
	}
	m, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.CA = ca.CertPEM()
	nodes := map[string]Node{}
	for _, id := range members {
		peers := []string{resource.Ministry}
		if id == resource.Ministry {
			peers = provinces
		}
		cert, err := ca.IssueTLS(id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		n, err := server.New(context.Background(), server.Config{Member: id, DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Keys: keys[id], Manifest: m, Peers: peers, SyncInterval: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Cert: &cert, PlaintextAPI: true, Limits: server.Limits{RatePerSecond: 1e6, Burst: 1e6}})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Serve(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		token, err := n.IssueToken(ctx, auth.RoleEditor, "test", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(n.GRPCAddr(), client.WithToken(token))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		nodes[id] = Node{Conn: c.Conn(), HTTP: n.HTTPAddr(), Token: token}
	}
	return nodes
}
