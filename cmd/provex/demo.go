package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/pki"
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
//
// The demo is dev mode: it makes the federation CA (--data/ca), a
// certificate per node and an admin token per node (--data/{member}/
// admin.token, kept in plain text for the examples). Nodes sync with each
// other over mutual TLS on ports 9400+; the API ports (7400+, 8400+) serve
// without TLS, for use on this machine only.
func runDemo(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "provex-demo", "directory for the nodes' databases, keys and the manifest")
	basePort := fs.Int("base-port", 7400, "first gRPC port; HTTP ports start 1000 higher, sync (mutual TLS) ports 2000 higher")
	logLevel := fs.String("log-level", "warn", "node log level")
	// An argument it ignored started the whole demo (an outside review).
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return &cli.UsageError{Msg: "demo: " + err.Error()}
	}
	provinces := sampledata.Provinces()
	members := append(append([]string(nil), provinces...), resource.Ministry)
	manifest, keys, ca, err := demoFederation(*dataDir, members, *basePort)
	if err != nil {
		return err
	}
	nodes := make([]*server.Node, len(members))
	tokens := make([]string, len(members))
	for i, m := range members {
		peers := []string{resource.Ministry}
		if m == resource.Ministry {
			peers = provinces
		}
		dir := filepath.Join(*dataDir, m)
		cert, err := demoCert(ca, dir, m)
		if err != nil {
			return err
		}
		n, err := server.New(ctx, server.Config{
			Member: m, DataDir: dir, GRPCAddr: net.JoinHostPort("localhost", strconv.Itoa(*basePort+i)),
			HTTPAddr: net.JoinHostPort("localhost", strconv.Itoa(*basePort+1000+i)),
			Keys:     keys[m], Manifest: manifest, Peers: peers,
			Version: version(), Logger: logger.With("member", m),
			Cert: &cert, PlaintextAPI: true,
		})
		if err != nil {
			return err
		}
		if tokens[i], err = demoToken(ctx, n, dir); err != nil {
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
		if len(sampledata.For(members[i])) > 0 {
			c, err := client.Dial(n.GRPCAddr(), client.WithToken(tokens[i]))
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
	if err := writeNodesFile(*dataDir, nodes, members); err != nil {
		return err
	}
	printExamples(env.Stdout, nodes, members, *dataDir)
	return g.Wait()
}

const manifestFile = "manifest.yaml"

// demoFederation loads the demo's manifest, keys and CA, or makes them on
// the first run (keys stay with the data they signed).
func demoFederation(dir string, members []string, basePort int) (*federation.Manifest, map[string]federation.NodeKeys, *pki.CA, error) {
	path := filepath.Join(dir, manifestFile)
	if _, err := os.Stat(path); err == nil {
		m, err := federation.LoadManifest(path)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("demo data in %s is from an older provex (%v); remove the directory to start afresh", dir, err)
		}
		ca, err := pki.LoadCA(filepath.Join(dir, "ca"))
		if err != nil || m.CA == nil {
			return nil, nil, nil, fmt.Errorf("demo data in %s is from an older provex (no federation CA); remove the directory to start afresh", dir)
		}
		keys := map[string]federation.NodeKeys{}
		for _, id := range members {
			k, err := federation.ReadKeyFile(filepath.Join(dir, id, server.KeyFile))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("demo data in %s is incomplete (%v); remove the directory to start afresh", dir, err)
			}
			keys[id] = k
		}
		return m, keys, ca, nil
	}
	// Members' addresses in the manifest are their sync endpoints.
	addrs := make([]string, len(members))
	for i := range members {
		addrs[i] = net.JoinHostPort("localhost", strconv.Itoa(basePort+2000+i))
	}
	m, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := pki.InitCA(filepath.Join(dir, "ca"), "provex demo federation CA", pki.DefaultCAValidity, time.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	m.CA = ca.CertPEM()
	for _, id := range members {
		if err := os.MkdirAll(filepath.Join(dir, id), 0o700); err != nil {
			return nil, nil, nil, err
		}
		if err := federation.WriteKeyFile(filepath.Join(dir, id, server.KeyFile), keys[id]); err != nil {
			return nil, nil, nil, err
		}
	}
	return m, keys, ca, m.WriteFile(path)
}

// demoCert loads a node's certificate from its directory, issuing it on
// the first run.
func demoCert(ca *pki.CA, dir, member string) (tls.Certificate, error) {
	if cert, err := pki.LoadNodeCert(dir); err == nil {
		return cert, nil
	}
	certPEM, keyPEM, err := ca.Issue(member, nil, pki.DefaultCertValidity, time.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := pki.WriteNodeFiles(dir, certPEM, keyPEM); err != nil {
		return tls.Certificate{}, err
	}
	return pki.LoadNodeCert(dir)
}

// demoTokenFile keeps a demo node's admin token in plain text, so the
// examples can use it. Real nodes keep only the hash (provex token create).
const demoTokenFile = "admin.token"

func demoToken(ctx context.Context, n *server.Node, dir string) (string, error) {
	path := filepath.Join(dir, demoTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	token, err := n.IssueToken(ctx, auth.RoleAdmin, "demo", time.Time{})
	if err != nil {
		return "", err
	}
	return token, os.WriteFile(path, []byte(token+"\n"), 0o600)
}

func printExamples(w io.Writer, nodes []*server.Node, members []string, dataDir string) {
	g, h := loopbackName(nodes[0].GRPCAddr()), loopbackName(nodes[0].HTTPAddr())
	other := loopbackName(nodes[1].HTTPAddr())
	ministry := loopbackName(nodes[len(nodes)-1].GRPCAddr())
	fmt.Fprintf(w, `
The federation is up: provinces sync through the ministry's node (%[6]s) over mutual TLS.
Every call but health, reflection and NodeService.GetCaller needs a token; each node's admin token is in %[8]s/{member}/admin.token.
Try, in another terminal:

  export PROVEX_TOKEN=$(cat %[8]s/%[3]s/admin.token)
  grpcurl -plaintext %[1]s list
  grpcurl -plaintext -H "authorization: Bearer $PROVEX_TOKEN" %[1]s provex.node.v1.NodeService/GetCaller
  grpcurl -plaintext -H "authorization: Bearer $PROVEX_TOKEN" -d '{"parent": "provinces/%[3]s", "filter": "direction = OUTGOING AND start_date >= 2024", "page_size": 2}' %[1]s provex.twinning.v1.TwinningService/ListDelegations
  curl -s -H "Authorization: Bearer $PROVEX_TOKEN" http://%[2]s/v1/provinces/%[3]s/border-gates
  curl -s -H "Authorization: Bearer $PROVEX_TOKEN" -G http://%[2]s/v1/provinces/%[3]s/projects --data-urlencode 'filter=(kind = ODA OR kind = CONCESSIONAL_LOAN) AND state = COMPLETED' --data-urlencode 'order_by=approved_date desc'
  curl -s -H "Authorization: Bearer $PROVEX_TOKEN" -X POST http://%[2]s/v1/provinces/%[3]s/agreements -d '{"display_name": "MoU on border tourism", "kind": "KIND_MOU", "partner_countries": ["CN"]}'
  go run ./cmd/provex list provinces/%[3]s/border-markers --addr %[1]s --filter 'condition = DAMAGED'

Records move between nodes: write on %[3]s, read the same record on %[7]s's node a moment later:

  curl -s -H "Authorization: Bearer $PROVEX_TOKEN" -X POST 'http://%[2]s/v1/provinces/%[3]s/border-incidents?border_incident_id=flood-demo' -d '{"display_name": "Flash flood closes the Tà Lùng gate", "category": "CATEGORY_NATURAL_DISASTER", "occur_time": "2025-08-01T06:00:00Z", "notify_provinces": ["lang-son", "%[7]s"]}'
  curl -s -H "Authorization: Bearer $(cat %[8]s/%[7]s/admin.token)" http://%[4]s/v1/provinces/%[3]s/border-incidents/flood-demo
  curl -s -H "Authorization: Bearer $PROVEX_TOKEN" 'http://%[2]s/v1/audit/entries?page_size=3'
  curl -s -H "Authorization: Bearer $PROVEX_TOKEN" http://%[2]s/metrics | grep -E '^(grpc_server_handled_total|provex_sync_origin_lag_entries)'
  go run ./cmd/provex sync status --all --manifest %[5]s --nodes %[8]s/nodes.yaml

Work between provinces and the ministry: %[7]s acknowledges the incident on its own node, and %[3]s sees who has and who is still waiting:

  curl -s -H "Authorization: Bearer $(cat %[8]s/%[7]s/admin.token)" -X POST http://%[4]s/v1/provinces/%[7]s/incident-acknowledgements -d '{"border_incident": "provinces/%[3]s/border-incidents/flood-demo", "note": "Border guard posts informed."}'
  curl -s -H "Authorization: Bearer $PROVEX_TOKEN" http://%[2]s/v1/provinces/%[3]s/border-incidents/flood-demo/acknowledgement-status

On the ministry's node: incidents still unacknowledged, its request for information half answered, and the agreement procedure's late opinions and reports:

  export MOFA_TOKEN=$(cat %[8]s/%[10]s/admin.token)
  curl -s -H "Authorization: Bearer $MOFA_TOKEN" 'http://%[9]s/v1/provinces/-/border-incidents/-/acknowledgement-statuses?waiting_only=true'
  curl -s -H "Authorization: Bearer $MOFA_TOKEN" 'http://%[9]s/v1/provinces/-/information-requests/-/statuses'
  curl -s -H "Authorization: Bearer $MOFA_TOKEN" 'http://%[9]s/v1/provinces/-/agreements/-/overdue-deadlines'
  curl -s -H "Authorization: Bearer $MOFA_TOKEN" 'http://%[9]s/v1/provinces/-/agreements/-/overdue-summary'

The national dashboard is the ministry's node's page (every province's figures, stale provinces marked): open

  http://%[9]s/

and paste the ministry's token, from %[8]s/%[10]s/admin.token, into its sign-in form (a token is good only on the node that issued it).

The OpenAPI document is at http://%[2]s/openapi.json. Stop with Ctrl-C.
`, g, h, members[0], other, filepath.Join(dataDir, manifestFile), ministry, members[1], dataDir, loopbackName(nodes[len(nodes)-1].HTTPAddr()), members[len(members)-1])
}

// writeNodesFile lists each demo node's API and token file for the
// convergence check (provex sync status --all --nodes).
func writeNodesFile(dir string, nodes []*server.Node, members []string) error {
	var b strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&b, "- member: %s\n  addr: %s\n  token_file: %s\n", members[i], loopbackName(n.GRPCAddr()), filepath.Join(members[i], demoTokenFile))
	}
	return os.WriteFile(filepath.Join(dir, "nodes.yaml"), []byte(b.String()), 0o644)
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
