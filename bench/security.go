package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/server"
)

// devPKI gives a manifest a fresh federation CA (in dir) and returns a
// function issuing node certificates of it, as dev mode does.
func devPKI(dir string, m *federation.Manifest) (func(member string) *tls.Certificate, error) {
	ca, err := pki.InitCA(dir, pki.DefaultCAName, 24*time.Hour, time.Now())
	if err != nil {
		return nil, err
	}
	m.CA = ca.CertPEM()
	return func(member string) *tls.Certificate {
		cert, err := ca.IssueTLS(member, time.Now())
		if err != nil {
			panic(err)
		}
		return &cert
	}, nil
}

// benchNode starts a solo dev-mode node (API without TLS, tokens and audit
// on) and returns it with an admin token, the way the other benchmarks
// measure provex as it runs. On a store a loader wrote, its key is the
// node.key the loader signed with (nodeKeysIn).
func benchNode(cfg server.Config) (*runningNode, string, error) {
	cfg.PlaintextAPI = true
	// One token stands for all the bench's callers: the per-identity
	// limits would measure the policy, not the node.
	cfg.Limits.RatePerSecond, cfg.Limits.Burst = 1e9, 1e9
	cfg.Limits.QueriesPerIdentity = 1 << 20
	n, err := startNode(cfg)
	if err != nil {
		return nil, "", err
	}
	token, err := n.node.IssueToken(ctx, auth.RoleAdmin, "bench", time.Time{})
	if err != nil {
		n.stop()
		return nil, "", err
	}
	return n, token, nil
}

// runSecurity measures what TLS, authorization and the audit trail cost:
// Create over gRPC and a sync catch-up, each on a protected node (TLS API
// with a bearer token; mutual TLS between nodes; audit trail) and on an
// Unprotected one (plaintext, no token checks, no audit), in the same run.
func runSecurity(args []string) error {
	fs := flag.NewFlagSet("security", flag.ExitOnError)
	duration := fs.Duration("duration", 5*time.Second, "length of each timed Create run")
	records := fs.Int("records", 200_000, "entries in the catch-up")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.Parse(args)
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	dir, err := os.MkdirTemp("", "provex-bench-security-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	limits := server.Limits{RatePerSecond: 1e9, Burst: 1e9}

	// Create: one solo node of each kind.
	m, _, err := federation.DevFederation([]string{"cao-bang"}, []string{freePort()}, time.Now())
	if err != nil {
		return err
	}
	certOf, err := devPKI(filepath.Join(dir, "ca"), m)
	if err != nil {
		return err
	}
	type target struct {
		name string
		dial func() (*grpc.ClientConn, error)
	}
	var targets []target
	for _, protected := range []bool{true, false} {
		cfg := server.Config{Member: "cao-bang", DataDir: filepath.Join(dir, fmt.Sprint("create-", protected)), GRPCAddr: "127.0.0.1:0",
			HTTPAddr: "127.0.0.1:0", Logger: quiet, Limits: limits, Unprotected: !protected}
		if protected {
			cfg.Cert = certOf("cao-bang")
		}
		n, err := startNode(cfg)
		if err != nil {
			return err
		}
		defer n.stop()
		addr := n.node.GRPCAddr()
		if !protected {
			targets = append(targets, target{"unprotected", func() (*grpc.ClientConn, error) {
				c, err := client.Dial(addr)
				if err != nil {
					return nil, err
				}
				return c.Conn(), nil
			}})
			continue
		}
		token, err := n.node.IssueToken(ctx, auth.RoleEditor, "bench", time.Time{})
		if err != nil {
			return err
		}
		tlsOpt, err := client.WithCA(m.CA)
		if err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(addr)
		targets = append(targets, target{"TLS + token + audit", func() (*grpc.ClientConn, error) {
			c, err := client.Dial("localhost:"+port, tlsOpt, client.WithToken(token))
			if err != nil {
				return nil, err
			}
			return c.Conn(), nil
		}})
	}
	fmt.Printf("Create over gRPC, %s per run, same run:\n\n| concurrency | node | ops/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|\n", *duration)
	ratios := map[int][2]float64{}
	for _, conc := range []int{1, 64} {
		var rs []result
		for _, t := range targets {
			conn, err := t.dial()
			if err != nil {
				return err
			}
			c := twinningv1.NewTwinningServiceClient(conn)
			r := measure(conc, *duration, func(w, i int) error {
				_, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: benchAgreement(i)})
				return err
			})
			conn.Close()
			rs = append(rs, r)
			fmt.Printf("| %d | %s | %.0f | %s | %s | %d |\n", conc, t.name, r.throughput, ms(r.p50), ms(r.p99), r.errors)
		}
		ratios[conc] = [2]float64{float64(rs[0].p50) / float64(rs[1].p50), rs[1].throughput / rs[0].throughput}
	}

	// Catch-up: an origin with records entries, then a follower pulling it all.
	srcDir := filepath.Join(dir, "origin")
	fm, keys, err := devFederation([]string{"cao-bang", "lang-son"})
	if err != nil {
		return err
	}
	if certOf, err = devPKI(filepath.Join(dir, "ca2"), fm); err != nil {
		return err
	}
	os.MkdirAll(srcDir, 0o750)
	if err := load(filepath.Join(srcDir, server.DatabaseFile), *records, keys["cao-bang"], fm, 0); err != nil {
		return err
	}
	catchUp := func(protected bool) (time.Duration, error) {
		// Each mode gets fresh ports: a stopped node's may linger.
		m := *fm
		m.Members = append([]federation.Member(nil), fm.Members...)
		for i := range m.Members {
			m.Members[i].Address = freePort()
		}
		cfg := func(member, data string, peers []string) server.Config {
			c := server.Config{Member: member, DataDir: data, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Keys: keys[member],
				Manifest: &m, Peers: peers, Logger: quiet, Limits: limits, Unprotected: !protected, PlaintextAPI: true}
			if protected {
				c.Cert = certOf(member)
			}
			return c
		}
		src, err := startNode(cfg("cao-bang", srcDir, nil))
		if err != nil {
			return 0, err
		}
		defer src.stop()
		start := time.Now()
		dst, err := startNode(cfg("lang-son", filepath.Join(dir, fmt.Sprint("follower-", protected)), []string{"cao-bang"}))
		if err != nil {
			return 0, err
		}
		defer dst.stop()
		for {
			origins, err := dst.node.Store().Origins(ctx)
			if err != nil {
				return 0, err
			}
			for _, o := range origins {
				if o.Origin == "cao-bang" && o.Seq == uint64(*records) {
					return time.Since(start), nil
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	secure, err := catchUp(true)
	if err != nil {
		return err
	}
	open, err := catchUp(false)
	if err != nil {
		return err
	}
	fmt.Printf("\nCatch-up of %d entries from one peer, same run:\n\n| node | time | entries/s |\n|---|---|---|\n", *records)
	fmt.Printf("| mutual TLS + peer authorization + audit | %s | %.0f |\n", secure.Round(time.Millisecond), float64(*records)/secure.Seconds())
	fmt.Printf("| unprotected | %s | %.0f |\n", open.Round(time.Millisecond), float64(*records)/open.Seconds())
	fmt.Printf("\n| measure | protected / unprotected (target under 1.3x) |\n|---|---|\n")
	for _, conc := range []int{1, 64} {
		fmt.Printf("| Create c=%d p50 latency | %.2fx |\n| Create c=%d time per op (1/throughput) | %.2fx |\n", conc, ratios[conc][0], conc, ratios[conc][1])
	}
	fmt.Printf("| catch-up time | %.2fx |\n", secure.Seconds()/open.Seconds())
	return nil
}
