package main

import (
	"flag"
	"fmt"
	"log/slog"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/server"
)

// runSummary times national summaries over a node's agreements (loaded as
// by the list benchmark).
func runSummary(args []string) error {
	fs := flag.NewFlagSet("summary", flag.ExitOnError)
	records := fs.Int("records", 1_000_000, "agreements to load")
	dataDir := fs.String("data", "", "keep the loaded node here and reuse it (default: temporary)")
	queries := fs.Int("queries", 20, "queries per summary")
	fs.Parse(args)
	dir, cleanup, err := loadedNode(*dataDir, *records)
	if err != nil {
		return err
	}
	defer cleanup()
	node, err := startNode(server.Config{Member: "cao-bang", DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer node.stop()
	_, conn, err := dial(node.node.GRPCAddr())
	if err != nil {
		return err
	}
	defer conn.Close()
	c := nationalv1.NewNationalServiceClient(conn)
	cases := []*nationalv1.SummarizeRequest{
		{Collection: "agreements", GroupBy: []string{"province", "signed_date.year"}},
		{Collection: "agreements", GroupBy: []string{"kind", "state"}, Filter: "signed_date >= 2020"},
		{Collection: "agreements", GroupBy: []string{"partner_countries"}},
	}
	fmt.Printf("Summaries over %d agreements, %d queries each, concurrency 1:\n\n| group_by | filter | groups | p50 ms | p99 ms |\n|---|---|---|---|---|\n", *records, *queries)
	for _, req := range cases {
		var groups int
		r := measureN(*queries, func() error {
			resp, err := c.Summarize(ctx, req)
			groups = len(resp.GetGroups())
			return err
		})
		if r.errors > 0 {
			return fmt.Errorf("summary %v failed", req)
		}
		fmt.Printf("| `%v` | `%s` | %d | %s | %s |\n", req.GetGroupBy(), req.GetFilter(), groups, ms(r.p50), ms(r.p99))
	}
	return nil
}
