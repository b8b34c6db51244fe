package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/provex/provex/client"
	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/sampledata"
	"github.com/provex/provex/server"
)

// runDemo starts one node per province that has sample data, each with its
// own SQLite file under --data, loads the sample data over gRPC, prints
// commands to try, and serves until interrupted. Data persists across runs;
// seeding again adds nothing.
func runDemo(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "provex-demo", "directory for the nodes' databases")
	basePort := fs.Int("base-port", 7400, "first gRPC port; HTTP ports start 1000 higher")
	logLevel := fs.String("log-level", "warn", "node log level")
	if err := fs.Parse(args); err != nil {
		return &cli.UsageError{Msg: "demo: " + err.Error()}
	}
	logger, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return &cli.UsageError{Msg: "demo: " + err.Error()}
	}
	members := sampledata.Provinces()
	nodes := make([]*server.Node, len(members))
	for i, m := range members {
		grpcAddr := net.JoinHostPort("localhost", strconv.Itoa(*basePort+i))
		httpAddr := net.JoinHostPort("localhost", strconv.Itoa(*basePort+1000+i))
		n, err := server.New(ctx, server.Config{
			Member: m, DataDir: filepath.Join(*dataDir, m), GRPCAddr: grpcAddr, HTTPAddr: httpAddr,
			Version: version(), Logger: logger.With("member", m),
		})
		if err != nil {
			return err
		}
		if err := n.Listen(); err != nil {
			return err
		}
		nodes[i] = n
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range nodes {
		g.Go(func() error { return n.Serve(gctx) })
	}
	for i, n := range nodes {
		c, err := client.Dial(n.GRPCAddr())
		if err != nil {
			return err
		}
		count, err := cli.Seed(ctx, c, members[i])
		c.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%-12s gRPC %-16s HTTP %-16s %4d sample records\n", members[i], loopbackName(n.GRPCAddr()), loopbackName(n.HTTPAddr()), count)
	}
	printExamples(env.Stdout, nodes[0], members[0])
	return g.Wait()
}

func printExamples(w io.Writer, n *server.Node, member string) {
	g, h := loopbackName(n.GRPCAddr()), loopbackName(n.HTTPAddr())
	fmt.Fprintf(w, `
The nodes are ready. Try, in another terminal:

  grpcurl -plaintext %[1]s list
  grpcurl -plaintext %[1]s provex.node.v1.NodeService/GetNodeInfo
  grpcurl -plaintext -d '{"parent": "provinces/%[3]s", "filter": "direction = OUTGOING AND start_date >= 2024", "page_size": 2}' %[1]s provex.twinning.v1.TwinningService/ListDelegations
  curl -s http://%[2]s/v1/provinces/%[3]s/border-gates
  curl -sG http://%[2]s/v1/provinces/%[3]s/projects --data-urlencode 'filter=kind = ODA AND state = COMPLETED' --data-urlencode 'order_by=approved_date desc'
  curl -s -X POST http://%[2]s/v1/provinces/%[3]s/agreements -d '{"display_name": "MoU on border tourism", "kind": "KIND_MOU", "partner_countries": ["CN"]}'
  go run ./cmd/provex list provinces/%[3]s/border-markers --addr %[1]s --filter 'condition = DAMAGED'

The OpenAPI document is at http://%[2]s/openapi.json. Stop with Ctrl-C.
`, g, h, member)
}

// loopbackName writes a loopback address as localhost:PORT, as the README
// does.
func loopbackName(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return addr
	}
	return net.JoinHostPort("localhost", port)
}
