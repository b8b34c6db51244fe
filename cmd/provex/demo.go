package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/provex/provex/client"
	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/sampledata"
	"github.com/provex/provex/server"
)

// runDemo starts a local federation on loopback: one node per province that
// has sample data plus the ministry's node, each with its own SQLite file
// under --data. Provinces sync with the ministry, which relays between them.
// It loads the sample data over gRPC, prints commands to try, and serves
// until interrupted. Keys, manifest and data persist across runs; seeding
// again adds nothing.
func runDemo(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "provex-demo", "directory for the nodes' databases, keys and the manifest")
	basePort := fs.Int("base-port", 7400, "first gRPC port; HTTP ports start 1000 higher")
	logLevel := fs.String("log-level", "warn", "node log level")
	if err := fs.Parse(args); err != nil {
		return &cli.UsageError{Msg: "demo: " + err.Error()}
	}
	logger, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return &cli.UsageError{Msg: "demo: " + err.Error()}
	}
	provinces := sampledata.Provinces()
	members := append(append([]string(nil), provinces...), resource.Ministry)
	manifest, keys, err := demoFederation(*dataDir, members, *basePort)
	if err != nil {
		return err
	}
	nodes := make([]*server.Node, len(members))
	for i, m := range members {
		peers := []string{resource.Ministry}
		if m == resource.Ministry {
			peers = provinces
		}
		mem, _ := manifest.Member(m)
		n, err := server.New(ctx, server.Config{
			Member: m, DataDir: filepath.Join(*dataDir, m), GRPCAddr: mem.Address,
			HTTPAddr: net.JoinHostPort("localhost", strconv.Itoa(*basePort+1000+i)),
			Key:      keys[m], Manifest: manifest, Peers: peers,
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
		count := 0
		if members[i] != resource.Ministry {
			c, err := client.Dial(n.GRPCAddr())
			if err != nil {
				return err
			}
			count, err = cli.Seed(ctx, c, members[i])
			c.Close()
			if err != nil {
				return err
			}
		}
		fmt.Fprintf(env.Stdout, "%-12s gRPC %-16s HTTP %-16s %4d sample records\n", members[i], loopbackName(n.GRPCAddr()), loopbackName(n.HTTPAddr()), count)
	}
	printExamples(env.Stdout, nodes, members, filepath.Join(*dataDir, manifestFile))
	return g.Wait()
}

const manifestFile = "manifest.yaml"

// demoFederation loads the demo's manifest and keys, or makes them on the
// first run (keys stay with the data they signed).
func demoFederation(dir string, members []string, basePort int) (*federation.Manifest, map[string]ed25519.PrivateKey, error) {
	path := filepath.Join(dir, manifestFile)
	if m, err := federation.LoadManifest(path); err == nil {
		keys := map[string]ed25519.PrivateKey{}
		for _, id := range members {
			k, err := federation.ReadKeyFile(filepath.Join(dir, id, server.KeyFile))
			if err != nil {
				return nil, nil, fmt.Errorf("demo data in %s is incomplete (%v); remove the directory to start afresh", dir, err)
			}
			keys[id] = k
		}
		return m, keys, nil
	}
	addrs := make([]string, len(members))
	for i := range members {
		addrs[i] = net.JoinHostPort("localhost", strconv.Itoa(basePort+i))
	}
	m, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		return nil, nil, err
	}
	for _, id := range members {
		if err := os.MkdirAll(filepath.Join(dir, id), 0o750); err != nil {
			return nil, nil, err
		}
		if err := federation.WriteKeyFile(filepath.Join(dir, id, server.KeyFile), keys[id]); err != nil {
			return nil, nil, err
		}
	}
	return m, keys, m.WriteFile(path)
}

func printExamples(w io.Writer, nodes []*server.Node, members []string, manifest string) {
	g, h := loopbackName(nodes[0].GRPCAddr()), loopbackName(nodes[0].HTTPAddr())
	other := loopbackName(nodes[1].HTTPAddr())
	ministry := loopbackName(nodes[len(nodes)-1].GRPCAddr())
	fmt.Fprintf(w, `
The federation is up: provinces sync through the ministry's node (%[6]s). Try, in another terminal:

  grpcurl -plaintext %[1]s list
  grpcurl -plaintext %[1]s provex.node.v1.NodeService/GetNodeInfo
  grpcurl -plaintext -d '{"parent": "provinces/%[3]s", "filter": "direction = OUTGOING AND start_date >= 2024", "page_size": 2}' %[1]s provex.twinning.v1.TwinningService/ListDelegations
  curl -s http://%[2]s/v1/provinces/%[3]s/border-gates
  curl -sG http://%[2]s/v1/provinces/%[3]s/projects --data-urlencode 'filter=kind = ODA AND state = COMPLETED' --data-urlencode 'order_by=approved_date desc'
  curl -s -X POST http://%[2]s/v1/provinces/%[3]s/agreements -d '{"display_name": "MoU on border tourism", "kind": "KIND_MOU", "partner_countries": ["CN"]}'
  go run ./cmd/provex list provinces/%[3]s/border-markers --addr %[1]s --filter 'condition = DAMAGED'

Records move between nodes: write on %[3]s, read the same record on %[7]s's node a moment later:

  curl -s -X POST 'http://%[2]s/v1/provinces/%[3]s/border-incidents?border_incident_id=flood-demo' -d '{"display_name": "Flash flood closes the Tà Lùng gate", "category": "CATEGORY_NATURAL_DISASTER", "occur_time": "2025-08-01T06:00:00Z", "notify_provinces": ["lang-son"]}'
  curl -s http://%[4]s/v1/provinces/%[3]s/border-incidents/flood-demo
  grpcurl -plaintext %[6]s provex.sync.v1.SyncService/GetSyncState
  go run ./cmd/provex sync status --all --manifest %[5]s

The OpenAPI document is at http://%[2]s/openapi.json. Stop with Ctrl-C.
`, g, h, members[0], other, manifest, ministry, members[1])
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
