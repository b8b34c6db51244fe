// Command bench measures a provex node over loopback gRPC against a baseline
// in the same run, and prints Markdown tables for BENCHMARKS.md.
//
//	go run ./bench crud [-duration 5s] [-rounds 1] [-busy 0]   Create and Get, concurrency 1 and 64, beside busy CPU-bound processes
//	go run ./bench list [-records 1000000]      List page 1 with filters over many records
//	go run ./bench catchup [-records 1000000]   the ministry and a relay catching up on one origin's log, 30% sealed, vs NATS JetStream (bench/jetstream); bytes per record by table
//	go run ./bench restore [-records 200000]    a node restoring its own log (30% sealed) from one peer vs the plain batched insert of its rows and of the minimal table
//	go run ./bench manifest [-members 35] [-changes 20] [-topology ring|line|star] [-interval 5s]   a signed manifest given to one member reaching every member
//	go run ./bench sealing                      Create of public, national and restricted records
//	go run ./bench propagation                  write-to-everywhere latency on 35 nodes
//	go run ./bench summary [-records 1000000]   national summaries over many records
//	go run ./bench views [-records 3500000] [-data DIR]   unacknowledged incidents, overdue requests, opinions and reports on the ministry's node
//	go run ./bench search [-records 1000000]    SearchRecords with case and diacritic folding over many records
//	go run ./bench soak [-duration 1m]          three node processes under mixed load: RSS, files, goroutines, errors
//	go run ./bench reads                        Get and List of public and national records (audited reads)
//	go run ./bench memory [-records 1000000] [-data DIR]   RSS of a standalone node process: idle, after writing the records through its API, after reads, idle again
//	go run ./bench gateway [-c 16]              Get of one record over the HTTP gateway and over gRPC, alternating rounds, callers in a process of their own
//
// The baseline is a bare grpc-go server implementing CreateAgreement and
// GetAgreement directly on database/sql + mattn/go-sqlite3: the same schema,
// the node's own connection settings (sqlite.OpenConns), and for each Create the same
// record-row and repeated-value inserts in one transaction, but no
// interceptors, validation, change log or group commit.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench crud|list|search|catchup|pgcatchup|restore|manifest|propagation|summary|views|security|sealing|soak|reads|gateway|memory [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "crud":
		err = runCRUD(os.Args[2:])
	case "list":
		err = runList(os.Args[2:])
	case "catchup":
		err = runCatchUp(os.Args[2:])
	case "pgcatchup":
		err = runPostgresCatchUp(os.Args[2:])
	case "restore":
		err = runRestore(os.Args[2:])
	case "manifest":
		err = runManifest(os.Args[2:])
	case "propagation":
		err = runPropagation(os.Args[2:])
	case "security":
		err = runSecurity(os.Args[2:])
	case "search":
		err = runSearch(os.Args[2:])
	case "views":
		err = runViews(os.Args[2:])
	case "summary":
		err = runSummary(os.Args[2:])
	case "sealing":
		err = runSealing(os.Args[2:])
	case "soak":
		err = runSoak(os.Args[2:])
	case "reads":
		err = runReads(os.Args[2:])
	case "gateway":
		err = runGateway(os.Args[2:])
	case "gateway-load": // the callers' process of gateway
		err = runGatewayLoad(os.Args[2:])
	case "memory":
		err = runMemory(os.Args[2:])
	case "spin":
		err = runSpin()
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result summarises one timed run.
type result struct {
	ops        int
	errors     int
	elapsed    time.Duration
	p50, p99   time.Duration
	throughput float64
}

// measure runs op from `workers` goroutines for d and collects latencies.
func measure(workers int, d time.Duration, op func(worker, i int) error) result {
	var (
		mu      sync.Mutex
		all     []time.Duration
		errs    int
		wg      sync.WaitGroup
		started = time.Now()
		until   = started.Add(d)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			bad := 0
			for i := 0; time.Now().Before(until); i++ {
				t0 := time.Now()
				if err := op(w, i); err == errStop {
					break
				} else if err != nil {
					bad++
					if bad == 1 {
						fmt.Fprintln(os.Stderr, "bench: op error:", err)
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := result{ops: len(all), errors: errs, elapsed: elapsed}
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
		r.throughput = float64(len(all)) / elapsed.Seconds()
	}
	return r
}

// dial connects to a node's API (plaintext: dev mode) with a token when
// one is given.
func dial(addr, token string) (twinningv1.TwinningServiceClient, *grpc.ClientConn, error) {
	var opts []grpc.DialOption
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.Dial(addr, opts...)
	if err != nil {
		return nil, nil, err
	}
	return c.Twinning, c.Conn(), nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

// benchAgreement is the record every Create writes: realistic size, one
// repeated filterable field.
func benchAgreement(i int) *twinningv1.Agreement {
	return &twinningv1.Agreement{
		DisplayName:      fmt.Sprintf("Memorandum of understanding on border trade cooperation no. %d", i),
		Kind:             twinningv1.Agreement_KIND_MOU,
		State:            twinningv1.Agreement_STATE_SIGNED,
		PartnerCountries: []string{"CN"},
		SignedPlace:      "Cao Bằng",
		Summary:          "Cooperation in border-gate management, trade facilitation, tourism at the Ban Gioc–Detian scenic area and exchanges between border communes.",
	}
}

var ctx = context.Background()

// errStop ends a worker of measure early.
var errStop = errors.New("stop")

func contextWithCancel() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }

// startCPUProfile writes a CPU profile to path until the returned func is
// called; with an empty path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
