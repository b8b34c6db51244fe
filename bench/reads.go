package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/server"
)

// runReads measures what auditing reads costs: Get of one record and List
// of a page of 50, public against national (whose reads are audited), at
// concurrency 1 and 16, in alternating rounds of the same run, on a node
// with the default read auditing and on one auditing every read.
func runReads(args []string) error {
	fs := flag.NewFlagSet("reads", flag.ExitOnError)
	duration := fs.Duration("duration", time.Second, "length of each round")
	rounds := fs.Int("rounds", 4, "rounds of each case, alternating")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "provex-bench-reads-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, all := range []bool{false, true} {
		if err := readRounds(filepath.Join(dir, fmt.Sprint(all)), all, *duration, *rounds); err != nil {
			return err
		}
	}
	return nil
}

func readRounds(dir string, auditAll bool, duration time.Duration, rounds int) error {
	cfg := server.Config{Member: "cao-bang", DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}
	cfg.AuditAllReads = auditAll
	node, token, err := benchNode(cfg)
	if err != nil {
		return err
	}
	defer node.stop()
	c, conn, err := dial(node.node.GRPCAddr(), token)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Public records are MOUs, national ones other agreements, so that a
	// filter on kind lists one or the other.
	var names [2][]string
	for i := range 200 {
		a := benchAgreement(i)
		v := i % 2
		if v == 1 {
			a.Visibility, a.Kind = typev1.Visibility_VISIBILITY_NATIONAL, twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT
		}
		got, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: a})
		if err != nil {
			return err
		}
		names[v] = append(names[v], got.GetName())
	}
	filters := [2]string{"kind = MOU", "kind = INTERNATIONAL_AGREEMENT"}
	type op struct {
		name string
		conc int
		vis  int
		run  func(i int) error
	}
	var ops []op
	for _, conc := range []int{1, 16} {
		for vis, label := range []string{"public", "national"} {
			ops = append(ops, op{"Get " + label, conc, vis, func(i int) error {
				_, err := c.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: names[vis][i%len(names[vis])]})
				return err
			}})
		}
		for vis, label := range []string{"public", "national"} {
			ops = append(ops, op{"List 50 " + label, conc, vis, func(int) error {
				resp, err := c.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang", Filter: filters[vis], PageSize: 50})
				if err == nil && len(resp.GetAgreements()) != 50 {
					err = fmt.Errorf("listed %d, not 50", len(resp.GetAgreements()))
				}
				return err
			}})
		}
	}
	lat := make([][]time.Duration, len(ops))
	count := make([]int, len(ops))
	var mu sync.Mutex
	for range rounds {
		for k, o := range ops {
			res := measure(o.conc, duration, func(_, i int) error {
				t0 := time.Now()
				err := o.run(i)
				d := time.Since(t0)
				mu.Lock()
				lat[k] = append(lat[k], d)
				mu.Unlock()
				return err
			})
			if res.errors > 0 {
				return fmt.Errorf("%s: %d errors", o.name, res.errors)
			}
			count[k] += res.ops
		}
	}
	p50 := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	mode := "default (national and restricted reads audited)"
	if auditAll {
		mode = "every read audited"
	}
	fmt.Printf("\nNode: %s; %d alternating rounds of %s per case, same run:\n\n", mode, rounds, duration)
	fmt.Printf("| concurrency | call | ops/s | p50 ms | p50 / public |\n|---|---|---|---|---|\n")
	for k, o := range ops {
		base := k
		if o.vis == 1 {
			base = k - 1
		}
		fmt.Printf("| %d | %s | %.0f | %s | %.2fx |\n", o.conc, o.name, float64(count[k])/(float64(rounds)*duration.Seconds()),
			ms(p50(lat[k])), float64(p50(lat[k]))/float64(p50(lat[base])))
	}
	return nil
}
