package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// runOverdue times the overdue views of the agreement procedure on the
// ministry's node holding the records of every member, loaded as the
// summary benchmark loads them (loadFederation: 20% agreements, signed
// 2000–2025, none reported, so every one signed since 1 July 2021 has its
// report overdue).
func runOverdue(args []string) error {
	fs := flag.NewFlagSet("overdue", flag.ExitOnError)
	records := fs.Int("records", 3_500_000, "records in all, spread evenly over the 35 members")
	dataDir := fs.String("data", "", "keep the loaded node here and reuse it (default: temporary)")
	queries := fs.Int("queries", 20, "queries per view")
	fs.Parse(args)

	dir, cleanup := *dataDir, func() {}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "provex-bench-"); err != nil {
			return err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	defer cleanup()
	if err := loadFederation(dir, *records); err != nil {
		return err
	}
	node, token, err := benchNode(server.Config{Member: resource.Ministry, DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer node.stop()
	c, conn, err := dial(node.node.GRPCAddr(), token)
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Printf("Overdue views of the agreement procedure on the ministry's node over %d records of 35 members, %d queries each, concurrency 1:\n\n", *records, *queries)
	fmt.Printf("| view | parent | deadline | items | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n")
	for _, parent := range []string{"provinces/-", "provinces/cao-bang"} {
		for _, d := range []twinningv1.Deadline{twinningv1.Deadline_DEADLINE_UNSPECIFIED, twinningv1.Deadline_DEADLINE_MOFA_OPINION, twinningv1.Deadline_DEADLINE_REPORT} {
			var items int
			r := measureN(*queries, func() error {
				resp, err := c.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: parent, Deadline: d})
				items = len(resp.GetOverdueDeadlines())
				return err
			})
			if r.errors > 0 {
				return fmt.Errorf("ListOverdueAgreementDeadlines %s %s failed", parent, d)
			}
			fmt.Printf("| ListOverdueAgreementDeadlines, page 1 | %s | %s | %d | %s | %s |\n", parent, d, items, ms(r.p50), ms(r.p99))
		}
		var late int32
		r := measureN(*queries, func() error {
			resp, err := c.SummarizeOverdueAgreementDeadlines(ctx, &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: parent})
			late = resp.GetOverdueReports() + resp.GetOverdueOpinions()
			return err
		})
		if r.errors > 0 {
			return fmt.Errorf("SummarizeOverdueAgreementDeadlines %s failed", parent)
		}
		fmt.Printf("| SummarizeOverdueAgreementDeadlines | %s | | %d | %s | %s |\n", parent, late, ms(r.p50), ms(r.p99))
	}
	return nil
}
