package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provex/provex/client"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/freeport"
)

// runMemory reports what one standalone node process holds in memory (its
// VmRSS, and VmHWM, the most it ever held): right after it starts, after it
// has written `records` agreements through its API, after a spell of
// reads (Get, List with filters, summaries) over them, and idle again.
// The loaded data directory is kept under -data, so a later run starts the
// node on the loaded database and measures the reads alone.
func runMemory(args []string) error {
	fs := flag.NewFlagSet("memory", flag.ExitOnError)
	records := fs.Int("records", 1_000_000, "agreements to write through the node's API")
	dataDir := fs.String("data", "", "keep the node's data directory here and reuse it once loaded (default: a temporary directory)")
	bin := fs.String("bin", "", "provex binary (default: built from ./cmd/provex)")
	work := fs.Duration("work", time.Minute, "how long to run reads over the loaded records")
	idle := fs.Duration("idle", 30*time.Second, "how long to leave the node idle before the last sample")
	conc := fs.Int("c", 16, "concurrent callers reading")
	loadConc := fs.Int("load-c", 64, "concurrent callers writing")
	fs.Parse(args)

	dir := *dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "provex-bench-memory-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if *bin == "" {
		*bin = filepath.Join(dir, "provex")
		if out, err := exec.Command("go", "build", "-o", *bin, "github.com/provex/provex/cmd/provex").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	data := filepath.Join(dir, "node")
	marker := filepath.Join(dir, fmt.Sprintf("loaded-%d", *records))
	_, err := os.Stat(marker)
	loaded := err == nil
	if !loaded {
		os.RemoveAll(data)
	}
	tokenFile := filepath.Join(dir, "admin.token")
	token, err := os.ReadFile(tokenFile)
	if err != nil || !loaded {
		out, err := exec.Command(*bin, "token", "create", "--role", "admin", "--label", "bench-memory", "--data", data, "--member", "cao-bang").Output()
		if err != nil {
			return fmt.Errorf("provex token create: %v", err)
		}
		token = bytes.TrimSpace(out)
		if err := os.WriteFile(tokenFile, token, 0o600); err != nil {
			return err
		}
	}
	addrs, err := freeport.Addrs(2)
	if err != nil {
		return err
	}
	n := &soakNode{member: "cao-bang", bin: *bin, log: filepath.Join(dir, "node.log"), data: data, token: string(token),
		grpcAddr: addrs[0], httpAddr: addrs[1],
		args: []string{"serve", "--member", "cao-bang", "--data", data, "--dev", "--grpc-addr", addrs[0], "--http-addr", addrs[1]}}
	n.exited = func(err error) {
		fmt.Fprintf(os.Stderr, "bench: the node exited by itself: %v (log: %s)\n", err, n.log)
	}
	if n.api, err = client.Dial(n.grpcAddr, client.WithToken(n.token)); err != nil {
		return err
	}
	defer n.api.Close()

	fmt.Printf("One standalone node (`provex serve --dev`, a separate process), %d agreements; load average (/proc/loadavg) at start: %s\n\n", *records, loadAvg())
	fmt.Printf("| when | VmRSS MiB | VmHWM MiB | database MiB | load average |\n|---|---|---|---|---|\n")
	sample := func(when string) error {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
		if err != nil {
			return err
		}
		rss, err := procStatusBytes(st, "VmRSS")
		if err != nil {
			return err
		}
		hwm, err := procStatusBytes(st, "VmHWM")
		if err != nil {
			return err
		}
		db, err := databaseBytes(data)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.1f | %.1f | %.0f | %s |\n", when, float64(rss)/(1<<20), float64(hwm)/(1<<20), float64(db)/(1<<20), loadAvg())
		return nil
	}
	if err := n.start(); err != nil {
		return err
	}
	defer func() {
		if n.cmd != nil {
			n.stop()
		}
	}()
	settle := func() { time.Sleep(2 * time.Second) }
	settle()
	state := "empty database"
	if loaded {
		state = fmt.Sprintf("%d agreements in the database", *records)
	}
	if err := sample("idle, 2 s after start (" + state + ")"); err != nil {
		return err
	}
	if !loaded {
		start := time.Now()
		if err := memoryLoad(n.api.Twinning, *records, *loadConc); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "loaded %d agreements through the API in %s\n", *records, time.Since(start).Round(time.Second))
		if err := sample(fmt.Sprintf("after writing %d agreements through the API (c=%d, %s)", *records, *loadConc, time.Since(start).Round(time.Second))); err != nil {
			return err
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
	}
	calls, err := memoryReads(n.api, *records, *conc, *work)
	if err != nil {
		return err
	}
	if err := sample(fmt.Sprintf("after %s of reads (c=%d: %s)", *work, *conc, calls)); err != nil {
		return err
	}
	time.Sleep(*idle)
	if err := sample(fmt.Sprintf("idle %s later", *idle)); err != nil {
		return err
	}
	return nil
}

// memoryName is the name of the i-th agreement memoryLoad writes.
func memoryName(i int) string { return fmt.Sprintf("provinces/cao-bang/agreements/m%07d", i) }

// memoryLoad creates agreements 0..n-1 through the API from conc callers.
func memoryLoad(c twinningv1.TwinningServiceClient, n, conc int) error {
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		failed atomic.Value
		start  = time.Now()
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				_, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang",
					AgreementId: strings.TrimPrefix(memoryName(i), "provinces/cao-bang/agreements/"), Agreement: listAgreement(i)})
				if err != nil {
					failed.Store(fmt.Errorf("create %s: %w", memoryName(i), err))
					return
				}
				if i > 0 && i%100000 == 0 {
					fmt.Fprintf(os.Stderr, "wrote %d agreements (%.0f/s, load %s)\n", i, float64(i)/time.Since(start).Seconds(), loadAvg())
				}
			}
		}()
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}

// memoryReads runs Gets of random agreements, Lists with filters (first
// pages and, from there, next pages) and national summaries from conc
// callers for d, and says how many of each it made.
func memoryReads(c *client.Client, records, conc int, d time.Duration) (string, error) {
	filters := []string{"", "state = IN_FORCE", "kind = MOU AND state = EXPIRED", "signed_date >= 2025-01-01",
		"partner_countries:KR", "partner_countries:KR AND state = SIGNED", `display_name = "Agreement 09*"`, "NOT state = IN_FORCE"}
	summaries := []*nationalv1.SummarizeRequest{
		{Collection: "agreements", GroupBy: []string{"province", "signed_date.year"}},
		{Collection: "agreements", GroupBy: []string{"kind", "state"}, Filter: "signed_date >= 2020"},
		{Collection: "agreements", GroupBy: []string{"partner_countries"}},
		// Not pre-aggregated: reads every matching record.
		{Collection: "agreements", GroupBy: []string{"partner_countries", "signed_date.year"}, Filter: "signed_date >= 2024"},
	}
	national := nationalv1.NewNationalServiceClient(c.Conn())
	var gets, lists, sums atomic.Int64
	var failed atomic.Value
	until := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(until) && failed.Load() == nil {
				var err error
				switch x := r.IntN(100); {
				case x < 60:
					_, err = c.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: memoryName(r.IntN(records))})
					gets.Add(1)
				case x < 95:
					req := &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang", Filter: filters[r.IntN(len(filters))], PageSize: 50}
					for range 1 + r.IntN(5) {
						var resp *twinningv1.ListAgreementsResponse
						if resp, err = c.Twinning.ListAgreements(ctx, req); err != nil || resp.GetNextPageToken() == "" {
							break
						}
						req.PageToken = resp.GetNextPageToken()
						lists.Add(1)
					}
				default:
					_, err = national.Summarize(ctx, summaries[r.IntN(len(summaries))])
					sums.Add(1)
				}
				if err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d Gets, %d List pages, %d summaries", gets.Load(), lists.Load(), sums.Load()), nil
}
