package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// runGateway compares Get of one record over the HTTP/JSON gateway with the
// same Get over gRPC, on one dev node, from one process at the same
// concurrency, in alternating rounds so that a change in the machine's load
// falls on both alike. The HTTP client keeps as many connections as workers
// (gRPC multiplexes them on one).
func runGateway(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	duration := fs.Duration("duration", 3*time.Second, "length of each timed round")
	rounds := fs.Int("rounds", 3, "rounds of each transport, alternating")
	conc := fs.Int("c", 16, "concurrent callers")
	only := fs.String("only", "", "run only this transport (gRPC or HTTP), e.g. to profile it")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.Parse(args)
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	dir, err := os.MkdirTemp("", "provex-bench-gateway-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	node, token, err := benchNode(server.Config{
		Member: "cao-bang", DataDir: filepath.Join(dir, "provex"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer node.stop()
	c, conn, err := dial(node.node.GRPCAddr(), token)
	if err != nil {
		return err
	}
	defer conn.Close()
	const name = "provinces/cao-bang/agreements/gateway-bench"
	if _, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
		Parent: "provinces/cao-bang", AgreementId: "gateway-bench", Agreement: benchAgreement(0),
	}); err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}}
	url := "http://" + node.node.HTTPAddr() + "/v1/" + name
	getHTTP := func(int, int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
		return err
	}
	getGRPC := func(int, int) error {
		_, err := c.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: name})
		return err
	}
	// Warm both paths (connections, caches) before timing.
	measure(*conc, *duration/4, getGRPC)
	measure(*conc, *duration/4, getHTTP)

	type row struct {
		transport string
		r         result
	}
	var rows []row
	for round := 0; round < *rounds; round++ {
		for _, t := range []struct {
			name string
			op   func(int, int) error
		}{{"gRPC", getGRPC}, {"HTTP", getHTTP}} {
			if *only != "" && *only != t.name {
				continue
			}
			r := measure(*conc, *duration, t.op)
			fmt.Fprintf(os.Stderr, "round %d %s Get c=%d: %d ops, %.0f/s, p50 %s ms, p99 %s ms, %d errors\n", round+1, t.name, *conc, r.ops, r.throughput, ms(r.p50), ms(r.p99), r.errors)
			rows = append(rows, row{t.name, r})
		}
	}
	fmt.Printf("| round | transport | Get/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|\n")
	perRound := 2
	if *only != "" {
		perRound = 1
	}
	for i, rw := range rows {
		fmt.Printf("| %d | %s | %.0f | %s | %s | %d |\n", i/perRound+1, rw.transport, rw.r.throughput, ms(rw.r.p50), ms(rw.r.p99), rw.r.errors)
	}
	fmt.Printf("\n| round | HTTP/gRPC throughput | HTTP/gRPC p50 |\n|---|---|---|\n")
	for i := 0; *only == "" && i+1 < len(rows); i += 2 {
		g, h := rows[i].r, rows[i+1].r
		fmt.Printf("| %d | %.2fx | %.2fx |\n", i/2+1, h.throughput/g.throughput, float64(h.p50)/float64(g.p50))
	}
	return nil
}
