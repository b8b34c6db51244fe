package main

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlite"
)

// countingConn counts the bytes a sync client reads off the wire (HTTP/2
// frames and TLS records included, if any).
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// freePort is a loopback address for a node's sync endpoint, which the
// manifest must name before the node starts.
func freePort() string {
	addr, err := freeport.Addr()
	if err != nil {
		panic(err)
	}
	return addr
}

type runningNode struct {
	node *server.Node
	stop func()
}

func startNode(cfg server.Config) (*runningNode, error) {
	n, err := server.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := n.Listen(); err != nil {
		return nil, err
	}
	c, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- n.Serve(c) }()
	return &runningNode{node: n, stop: func() { cancel(); <-done }}, nil
}

// runCatchUp measures a fresh node catching up on one origin's log from a
// peer, against inserting the same rows into SQLite in plain batched
// transactions (no verification, no network, values precomputed).
func runCatchUp(args []string) error {
	fs := flag.NewFlagSet("catchup", flag.ExitOnError)
	records := fs.Int("records", 1_000_000, "entries in the origin's log")
	dataDir := fs.String("data", "", "keep the loaded origin here and reuse it (default: temporary)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the catch-up to this file")
	fs.Parse(args)
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "provex-bench-catchup-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	srcDir, dstDir, baseDir := filepath.Join(dir, "origin"), filepath.Join(dir, "follower"), filepath.Join(dir, "baseline")
	os.RemoveAll(dstDir)
	os.RemoveAll(baseDir)
	os.MkdirAll(baseDir, 0o750)

	addrs := []string{freePort(), freePort()}
	members := []string{"cao-bang", "lang-son"}
	manifest, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		return err
	}
	keyFile := filepath.Join(srcDir, server.KeyFile)
	marker := filepath.Join(srcDir, fmt.Sprintf("loaded-%d", *records))
	if _, err := os.Stat(marker); err != nil {
		os.RemoveAll(srcDir)
		os.MkdirAll(srcDir, 0o750)
		if err := federation.WriteKeyFile(keyFile, keys["cao-bang"]); err != nil {
			return err
		}
		if err := load(filepath.Join(srcDir, server.DatabaseFile), *records, keys["cao-bang"]); err != nil {
			return err
		}
		os.WriteFile(marker, nil, 0o644)
	}
	srcKey, err := federation.ReadKeyFile(keyFile)
	if err != nil {
		return err
	}
	manifest.Members[0].PublicKey = srcKey.Public().(ed25519.PublicKey)
	quiet := slog.New(slog.DiscardHandler)
	certOf, err := devPKI(filepath.Join(dir, "ca-"+fmt.Sprint(time.Now().UnixNano())), manifest)
	if err != nil {
		return err
	}
	pool, err := manifest.CAPool()
	if err != nil {
		return err
	}

	// Baseline: the same change rows and record rows, precomputed, inserted
	// in transactions of 500 (the default pull batch).
	base, err := baselineInsert(filepath.Join(srcDir, server.DatabaseFile), filepath.Join(baseDir, "plain.db"), *records)
	if err != nil {
		return err
	}

	src, err := startNode(server.Config{Member: "cao-bang", DataDir: srcDir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Key: srcKey, Manifest: manifest, Logger: quiet, Cert: certOf("cao-bang"), PlaintextAPI: true})
	if err != nil {
		return err
	}
	defer src.stop()
	var wire atomic.Int64
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	start := time.Now()
	dstCert := certOf("lang-son")
	dst, err := startNode(server.Config{Member: "lang-son", DataDir: dstDir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Key: keys["lang-son"], Manifest: manifest, Peers: []string{"cao-bang"}, Logger: quiet, Cert: dstCert, PlaintextAPI: true,
		SyncDial: func(member, addr string) (*grpc.ClientConn, error) {
			return grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(*dstCert, pool, member))),
				grpc.WithContextDialer(func(c context.Context, a string) (net.Conn, error) {
					conn, err := (&net.Dialer{}).DialContext(c, "tcp", a)
					if err != nil {
						return nil, err
					}
					return countingConn{conn, &wire}, nil
				}))
		}})
	if err != nil {
		return err
	}
	defer dst.stop()
	for {
		origins, err := dst.node.Store().Origins(ctx)
		if err != nil {
			return err
		}
		done := false
		for _, o := range origins {
			if o.Origin == "cao-bang" && o.Seq == uint64(*records) {
				done = true
			}
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	rate := float64(*records) / elapsed.Seconds()
	fmt.Printf("Catch-up of %d entries from one peer, same machine, same run:\n\n", *records)
	fmt.Printf("| what | time | entries/s |\n|---|---|---|\n")
	fmt.Printf("| provex follower pulling, verifying and applying | %s | %.0f |\n", elapsed.Round(time.Millisecond), rate)
	fmt.Printf("| plain batched SQLite insert of the same rows (500 per transaction) | %s | %.0f |\n", base.Round(time.Millisecond), float64(*records)/base.Seconds())
	fmt.Printf("\nprovex / plain rate: %.2f (target: at least 0.5)\n", rate/(float64(*records)/base.Seconds()))
	fmt.Printf("bytes on the wire per entry (TLS records read by the follower): %.0f\n", float64(wire.Load())/float64(*records))
	return nil
}

// baselineInsert copies the origin's change rows, record rows and
// repeated-value rows into a new database with the same schema, in plain
// transactions of 500 entries, and returns the time of the inserts alone.
func baselineInsert(srcPath, dstPath string, n int) (time.Duration, error) {
	// Create the schema the same way a node does.
	db, err := sqlite.Open(ctx, dstPath, "lang-son", sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	db.Close()
	src, err := sql.Open("sqlite3", "file:"+srcPath+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer src.Close()
	type row struct {
		change []any
		record []any
		values []any // elements of repeated filter fields
	}
	rows := make([]row, 0, n)
	k := resource.Agreements
	var cols []string
	for _, f := range k.Schema.Fields() {
		if !f.Repeated {
			cols = append(cols, f.Column)
		}
	}
	q, err := src.Query("SELECT origin, seq, hlc, name, data, prev_hash, hash, data_hash, visibility, visible_to, redacted FROM changes ORDER BY seq")
	if err != nil {
		return 0, err
	}
	for q.Next() {
		var (
			origin, name, visibleTo string
			seq, hlc                int64
			data, prev, hash, dh    []byte
			vis, red                int64
		)
		if err := q.Scan(&origin, &seq, &hlc, &name, &data, &prev, &hash, &dh, &vis, &visibleTo, &red); err != nil {
			return 0, err
		}
		a := &twinningv1.Agreement{}
		if err := proto.Unmarshal(data, a); err != nil {
			return 0, err
		}
		rec := []any{name, "cao-bang", seq, data}
		for _, f := range k.Schema.Fields() {
			if !f.Repeated {
				rec = append(rec, f.Values(a.ProtoReflect())[0])
			}
		}
		var values []any
		for _, f := range k.Schema.Fields() {
			if f.Repeated {
				for _, v := range f.Values(a.ProtoReflect()) {
					values = append(values, f.Path, v)
				}
			}
		}
		rows = append(rows, row{change: []any{origin, seq, hlc, name, data, prev, hash, dh, vis, visibleTo, red}, record: rec, values: values})
	}
	q.Close()
	dst, err := sql.Open("sqlite3", "file:"+dstPath+"?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	dst.SetMaxOpenConns(1)
	insChange, err := dst.Prepare("INSERT INTO changes (origin, seq, hlc, name, data, prev_hash, hash, data_hash, visibility, visible_to, redacted) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
	if err != nil {
		return 0, err
	}
	insRecord, err := dst.Prepare(fmt.Sprintf("INSERT INTO agreements (name, province, seq, data, %s) VALUES (?, ?, ?, ?%s)", strings.Join(cols, ", "), strings.Repeat(", ?", len(cols))))
	if err != nil {
		return 0, err
	}
	insValue, err := dst.Prepare("INSERT OR IGNORE INTO record_values (kind, field, value, record) VALUES ('agreements', ?, ?, ?)")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(rows); i += 500 {
		tx, err := dst.Begin()
		if err != nil {
			return 0, err
		}
		for _, r := range rows[i:min(i+500, len(rows))] {
			if _, err := tx.Stmt(insChange).Exec(r.change...); err != nil {
				return 0, err
			}
			res, err := tx.Stmt(insRecord).Exec(r.record...)
			if err != nil {
				return 0, err
			}
			id, _ := res.LastInsertId()
			for j := 0; j < len(r.values); j += 2 {
				if _, err := tx.Stmt(insValue).Exec(r.values[j], r.values[j+1], id); err != nil {
					return 0, err
				}
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// runPropagation starts a 35-node federation (34 provinces and the
// ministry, default settings: provinces sync with the ministry, which
// relays) and measures how long a write on one province takes to be
// readable on every node.
func runPropagation(args []string) error {
	fs := flag.NewFlagSet("propagation", flag.ExitOnError)
	writes := fs.Int("writes", 200, "writes to time")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "provex-bench-propagation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var members []string
	for _, p := range resource.Provinces() {
		members = append(members, p.Slug)
	}
	provinces := append([]string(nil), members...)
	members = append(members, resource.Ministry)
	addrs := make([]string, len(members))
	for i := range members {
		addrs[i] = freePort()
	}
	manifest, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		return err
	}
	certOf, err := devPKI(filepath.Join(dir, "ca"), manifest)
	if err != nil {
		return err
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rssBefore := rss()
	nodes := map[string]*runningNode{}
	clients := map[string]twinningv1.TwinningServiceClient{}
	for _, m := range members {
		peers := []string{resource.Ministry}
		if m == resource.Ministry {
			peers = provinces
		}
		n, token, err := benchNode(server.Config{Member: m, DataDir: filepath.Join(dir, m), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Key: keys[m], Manifest: manifest, Peers: peers, Logger: slog.New(slog.DiscardHandler), Cert: certOf(m)})
		if err != nil {
			return err
		}
		defer n.stop()
		nodes[m] = n
		c, conn, err := dial(n.node.GRPCAddr(), token)
		if err != nil {
			return err
		}
		defer conn.Close()
		clients[m] = c
	}
	time.Sleep(2 * time.Second) // first exchanges settle
	var lat []time.Duration
	for i := 0; i < *writes; i++ {
		origin := provinces[i%len(provinces)]
		id := fmt.Sprintf("prop-%04d", i)
		name := "provinces/" + origin + "/agreements/" + id
		start := time.Now()
		if _, err := clients[origin].CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/" + origin, AgreementId: id,
			Agreement: benchAgreement(i)}); err != nil {
			return err
		}
		var (
			wg      sync.WaitGroup
			slowest atomic.Int64
		)
		for _, m := range members {
			if m == origin {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < 10*time.Second {
					if _, err := clients[m].GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: name}); err == nil {
						d := int64(time.Since(start))
						for {
							cur := slowest.Load()
							if d <= cur || slowest.CompareAndSwap(cur, d) {
								break
							}
						}
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
				slowest.Store(int64(time.Hour))
			}()
		}
		wg.Wait()
		lat = append(lat, time.Duration(slowest.Load()))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	fmt.Printf("Propagation on a %d-node loopback federation (34 provinces + ministry, default settings), %d writes, one at a time:\n\n", len(members), *writes)
	fmt.Printf("| write → readable on all other %d nodes | p50 ms | p99 ms | max ms |\n|---|---|---|---|\n", len(members)-1)
	fmt.Printf("| | %s | %s | %s |\n", ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	fmt.Printf("\nmemory per node (all %d nodes in one process): Go heap %.1f MiB, process RSS %.1f MiB\n", len(members),
		float64(after.HeapInuse-before.HeapInuse)/float64(len(members))/(1<<20), float64(rss()-rssBefore)/float64(len(members))/(1<<20))
	return nil
}

// rss reads the process's resident set size (Linux).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident uint64
	fmt.Sscan(string(b), &size, &resident)
	return resident * uint64(os.Getpagesize())
}
