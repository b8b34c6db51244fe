package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
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

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
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

// origin is what the catch-up and restore benches start from: an origin's
// log loaded (or reused from a kept directory), its federation's keys and
// a PKI for its nodes.
type origin struct {
	dir, srcDir string
	manifest    *federation.Manifest
	keys        map[string]federation.NodeKeys
	certOf      func(member string) *tls.Certificate
	cleanup     func()
}

// loadOrigin loads records entries into an origin in dataDir, or in a
// temporary directory removed by cleanup when dataDir is "".
func loadOrigin(bench, dataDir string, records, confidential int) (*origin, error) {
	o := &origin{dir: dataDir, cleanup: func() {}}
	if o.dir == "" {
		tmp, err := os.MkdirTemp("", "provex-bench-"+bench+"-")
		if err != nil {
			return nil, err
		}
		o.dir, o.cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	o.srcDir = filepath.Join(o.dir, "origin")
	var err error
	if o.manifest, o.keys, err = catchUpFederation(o.dir, records, confidential); err == nil {
		o.certOf, err = devPKI(filepath.Join(o.dir, "ca-"+fmt.Sprint(time.Now().UnixNano())), o.manifest)
	}
	if err != nil {
		o.cleanup()
		return nil, err
	}
	return o, nil
}

// writeSigned signs m with a new federation key of its own and writes it
// to path, for nodes started from the file (which take only signed ones).
// m itself stays unsigned: nodes started in the process take it as given,
// whatever the caller changes in it after (its CA, say).
func writeSigned(m *federation.Manifest, path string) error {
	_, key, err := federation.GenerateKey()
	if err != nil {
		return err
	}
	signed := *m
	signed.FederationKey = nil
	if err := signed.Sign(key); err != nil {
		return err
	}
	return signed.WriteFile(path)
}

// devFederation makes keys and a manifest for members, each at a
// loopback sync address no other socket takes first.
func devFederation(members []string) (*federation.Manifest, map[string]federation.NodeKeys, error) {
	addrs, err := freeport.Addrs(len(members))
	if err != nil {
		return nil, nil, err
	}
	return federation.DevFederation(members, addrs, time.Now())
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

// catchUpMembers: cao-bang writes; mofa reads every state; lang-son is a
// reader of the restricted ones (it does not run); nghe-an reads only the
// public ones and relays the rest.
var catchUpMembers = []string{"cao-bang", "lang-son", "mofa", "nghe-an"}

// runCatchUp measures fresh nodes catching up on one origin's log from a
// peer (the ministry, which opens the sealed entries, and a province that
// only relays them), each against a plain batched insert of the rows that
// node ends up holding, in the same run.
func runCatchUp(args []string) error {
	fs := flag.NewFlagSet("catchup", flag.ExitOnError)
	records := fs.Int("records", 1_000_000, "entries in the origin's log")
	confidential := fs.Int("confidential", 30, "percentage of the records that are national or restricted (sealed)")
	dataDir := fs.String("data", "", "keep the loaded origin here and reuse it (default: temporary)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the catch-ups to this file")
	rounds := fs.Int("rounds", 3, "rounds of every path, interleaved; the tables give medians")
	fs.Parse(args)
	o, err := loadOrigin("catchup", *dataDir, *records, *confidential)
	if err != nil {
		return err
	}
	defer o.cleanup()
	dir, srcDir, manifest, keys, certOf := o.dir, o.srcDir, o.manifest, o.keys, o.certOf
	quiet := slog.New(slog.DiscardHandler)
	pool, err := manifest.CAPool()
	if err != nil {
		return err
	}
	rows, err := baselineRows(filepath.Join(srcDir, server.DatabaseFile), keys["mofa"])
	if err != nil {
		return err
	}
	js, err := newShipper(dir, srcDir, filepath.Join(dir, "keys"), *records)
	if err != nil {
		return err
	}
	src, err := startNode(server.Config{Member: "cao-bang", DataDir: srcDir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Keys: keys["cao-bang"], Manifest: manifest, Logger: quiet, Cert: certOf("cao-bang"), PlaintextAPI: true})
	if err != nil {
		return err
	}
	defer src.stop()
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	catchUp := func(member string) (time.Duration, int64, error) {
		dst := filepath.Join(dir, member)
		os.RemoveAll(dst)
		var wire atomic.Int64
		cert := certOf(member)
		start := time.Now()
		n, err := startNode(server.Config{Member: member, DataDir: dst, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Keys: keys[member], Manifest: manifest, Peers: []string{"cao-bang"}, Logger: quiet, Cert: cert, PlaintextAPI: true,
			SyncDial: func(peer, addr string) (*grpc.ClientConn, error) {
				return grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(*cert, pool, peer))),
					grpc.WithContextDialer(func(c context.Context, a string) (net.Conn, error) {
						conn, err := (&net.Dialer{}).DialContext(c, "tcp", a)
						if err != nil {
							return nil, err
						}
						return countingConn{conn, &wire}, nil
					}))
			}})
		if err != nil {
			return 0, 0, err
		}
		defer n.stop()
		for {
			origins, err := n.node.Store().Origins(ctx)
			if err != nil {
				return 0, 0, err
			}
			for _, o := range origins {
				if o.Origin == "cao-bang" && o.Seq == uint64(*records) {
					return time.Since(start), wire.Load(), nil
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	type result struct {
		who              string
		provex, baseline time.Duration
		wire             int64
	}
	var (
		results []result
		paths   = map[string][]time.Duration{}
	)
	for round := 0; round < *rounds; round++ {
		for _, member := range []string{"mofa", "nghe-an"} {
			reader := member == "mofa"
			base, err := baselineInsert(filepath.Join(dir, "baseline-"+member+".db"), rows, reader)
			if err != nil {
				return err
			}
			took, wire, err := catchUp(member)
			if err != nil {
				return err
			}
			results = append(results, result{member, took, base, wire})
			paths["provex "+member] = append(paths["provex "+member], took)
			if paths, err = js.round(dir, member, *records, paths); err != nil {
				return err
			}
		}
	}
	// The medians of each follower's rounds.
	for i := range 2 {
		var p, b []time.Duration
		for _, r := range results[i:] {
			if r.who == results[i].who {
				p, b = append(p, r.provex), append(b, r.baseline)
			}
		}
		results[i].provex, results[i].baseline = medianDuration(p), medianDuration(b)
	}
	results = results[:2]
	rate := func(d time.Duration) float64 { return float64(*records) / d.Seconds() }
	fmt.Printf("Catch-up of %d entries (%d%% national or restricted, sealed) from one peer, same machine, same run:\n\n", *records, *confidential)
	fmt.Printf("| follower | provex entries/s | plain batched insert of the rows it holds, entries/s | provex / plain (target at least 0.5) | bytes on the wire per entry |\n|---|---|---|---|---|\n")
	for _, r := range results {
		role := "the ministry (opens every sealed entry)"
		if r.who != "mofa" {
			role = r.who + " (relays the sealed entries, holds the public records)"
		}
		fmt.Printf("| %s | %.0f | %.0f | %.2f | %.0f |\n", role, rate(r.provex), rate(r.baseline), r.baseline.Seconds()/r.provex.Seconds(),
			float64(r.wire)/float64(*records))
	}
	printShipperTable(*records, *rounds, paths)
	return js.printSizes(*records, map[string]string{
		"origin (cao-bang)":                     filepath.Join(srcDir, server.DatabaseFile),
		"mofa after catch-up":                   filepath.Join(dir, "mofa", server.DatabaseFile),
		"nghe-an after catch-up":                filepath.Join(dir, "nghe-an", server.DatabaseFile),
		"minimal table":                         filepath.Join(dir, "jetstream-minimal.db"),
		"mofa by JetStream through ApplyRemote": filepath.Join(dir, "jetstream-provex-mofa.db"),
	})
}

// catchUpFederation loads the origin once (a marker file remembers it) and
// keeps the members' keys and the manifest beside it, since the origin's
// sealed entries are sealed to those keys.
func catchUpFederation(dir string, records, confidential int) (*federation.Manifest, map[string]federation.NodeKeys, error) {
	srcDir := filepath.Join(dir, "origin")
	marker := filepath.Join(srcDir, fmt.Sprintf("loaded-%d-%d", records, confidential))
	keyFile := func(m string) string { return filepath.Join(dir, "keys", m+".key") }
	manifestPath := filepath.Join(dir, "keys", "manifest.yaml")
	if _, err := os.Stat(marker); err == nil {
		m, err := federation.LoadManifest(manifestPath)
		if err != nil {
			return nil, nil, err
		}
		// The nodes in this process take it as given; the caller may
		// still change it (its CA), which a signature would not allow.
		m.FederationKey, m.Signature = nil, nil
		keys := map[string]federation.NodeKeys{}
		for _, id := range catchUpMembers {
			if keys[id], err = federation.ReadKeyFile(keyFile(id)); err != nil {
				return nil, nil, err
			}
		}
		return m, keys, nil
	}
	os.RemoveAll(srcDir)
	os.RemoveAll(filepath.Join(dir, "keys"))
	os.MkdirAll(srcDir, 0o750)
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	m, keys, err := devFederation(catchUpMembers)
	if err != nil {
		return nil, nil, err
	}
	for id, k := range keys {
		if err := federation.WriteKeyFile(keyFile(id), k); err != nil {
			return nil, nil, err
		}
	}
	if err := load(filepath.Join(srcDir, server.DatabaseFile), records, keys["cao-bang"], m, confidential); err != nil {
		return nil, nil, err
	}
	if err := writeSigned(m, manifestPath); err != nil {
		return nil, nil, err
	}
	return m, keys, os.WriteFile(marker, nil, 0o644)
}

// baselineRow is one entry as a follower holds it: the change row, and,
// for a reader of the state, the record row, its repeated values and its
// search words.
type baselineRow struct {
	change []any
	public bool
	record []any
	values []any  // field, value pairs of repeated filter fields
	words  string // JSON array of the record's search words
}

// baselineRows reads the origin's log and precomputes every row a follower
// inserts, opening the sealed entries with the ministry's keys (untimed).
func baselineRows(srcPath string, mofa federation.NodeKeys) ([]baselineRow, error) {
	sealer, err := changelog.NewSealer(mofa.Encryption...)
	if err != nil {
		return nil, err
	}
	src, err := sql.Open("sqlite3", "file:"+srcPath+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	k := resource.Agreements
	q, err := src.Query("SELECT origin, seq, hlc, name, data, sealed, prev_hash, hash FROM changes ORDER BY seq")
	if err != nil {
		return nil, err
	}
	defer q.Close()
	var rows []baselineRow
	for q.Next() {
		var (
			origin, name     string
			seq, hlc         int64
			data, prev, hash []byte
			form             int64 // 1 sealed; 2 the name is the state's (storage/sqlstore entryrow.go)
		)
		if err := q.Scan(&origin, &seq, &hlc, &name, &data, &form, &prev, &hash); err != nil {
			return nil, err
		}
		storedName, sealed := name, form == 1
		state := data
		if sealed {
			o, err := sealer.Open(origin, uint64(seq), data)
			if err != nil {
				return nil, err
			}
			name, state = o.Name, o.Data
		}
		a := &twinningv1.Agreement{}
		if err := proto.Unmarshal(state, a); err != nil {
			return nil, err
		}
		if form == 2 {
			name = a.GetName()
		}
		// A row keeps the state only when its entry is sealed; otherwise
		// the entry holds it (storage/sqlstore recordData).
		kept := []byte{}
		if sealed {
			kept = state
		}
		text, words := sqlstore.SearchIndex(k, a)
		wordList, err := json.Marshal(words)
		if err != nil {
			return nil, err
		}
		rec := []any{name, "cao-bang", seq, kept, text}
		var values []any
		for _, f := range k.Schema.Fields() {
			if f.Repeated {
				for _, v := range f.Values(a.ProtoReflect()) {
					values = append(values, f.Path, v)
				}
			} else {
				rec = append(rec, f.Values(a.ProtoReflect())[0])
			}
		}
		rows = append(rows, baselineRow{change: []any{origin, seq, hlc, storedName, data, form, prev, hash}, public: !sealed, record: rec, values: values, words: string(wordList)})
	}
	return rows, q.Err()
}

// baselineInsert inserts the rows a follower holds (every change row; the
// record rows of the states it reads: all for a reader, the public ones for
// a relay) into a new database with the node's schema and pragmas, in
// plain transactions of 500 entries, and returns the time of the inserts
// alone.
func baselineInsert(dstPath string, rows []baselineRow, reader bool) (time.Duration, error) {
	os.Remove(dstPath)
	// Create the schema the way a node does.
	db, err := sqlstore.Open(ctx, dstPath, "lang-son", sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	db.Close()
	k := resource.Agreements
	var cols []string
	for _, f := range k.Schema.Fields() {
		if !f.Repeated {
			cols = append(cols, f.Column)
		}
	}
	// Exactly the node writer's connection settings (WAL, synchronous=FULL,
	// page cache, temporary storage in memory, ...), from the store itself.
	dst, err := sqlstore.OpenConns(dstPath, false)
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	insChange, err := dst.Prepare("INSERT INTO changes (origin, seq, hlc, name, data, sealed, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)")
	if err != nil {
		return 0, err
	}
	insRecord, err := dst.Prepare(fmt.Sprintf("INSERT INTO agreements (name, province, seq, data, search_text, %s) VALUES (?, ?, ?, ?, ?%s)", strings.Join(cols, ", "), strings.Repeat(", ?", len(cols))))
	if err != nil {
		return 0, err
	}
	insValue, err := dst.Prepare("INSERT OR IGNORE INTO record_elements (list, value, record) VALUES (?, ?, ?)")
	if err != nil {
		return 0, err
	}
	insWords, err := dst.Prepare("INSERT OR IGNORE INTO agreements_words (record, word) SELECT ?1, value FROM json_each(?2)")
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
			if !reader && !r.public {
				continue
			}
			res, err := tx.Stmt(insRecord).Exec(r.record...)
			if err != nil {
				return 0, err
			}
			id, _ := res.LastInsertId()
			if _, err := tx.Stmt(insWords).Exec(id, r.words); err != nil {
				return 0, err
			}
			for j := 0; j < len(r.values); j += 2 {
				if _, err := tx.Stmt(insValue).Exec(filter.ListID(k.Collection, r.values[j].(string)), r.values[j+1], id); err != nil {
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
	manifest, keys, err := devFederation(members)
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
			Keys: keys[m], Manifest: manifest, Peers: peers, Logger: slog.New(slog.DiscardHandler), Cert: certOf(m)})
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
