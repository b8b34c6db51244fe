package main

import (
	"cmp"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

func runCRUD(args []string) error {
	fs := flag.NewFlagSet("crud", flag.ExitOnError)
	duration := fs.Duration("duration", 5*time.Second, "length of each timed run")
	rounds := fs.Int("rounds", 1, "rounds of each operation/concurrency; the two servers alternate which goes first")
	busy := fs.Int("busy", 0, "CPU-bound processes to run beside the whole run")
	only := fs.String("only", "", "run only this operation/concurrency, e.g. Create/64")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	store := fs.String("store", "", "provex's store on this PostgreSQL database (postgres://...; empty) instead of SQLite; the baseline stays on SQLite")
	fs.Parse(args)
	stopBusy, err := startBusy(*busy)
	if err != nil {
		return err
	}
	defer stopBusy()
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	dir, err := os.MkdirTemp("", "provex-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	node, token, err := benchNode(server.Config{
		Member: "cao-bang", DataDir: filepath.Join(dir, "provex"), Store: *store, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer node.stop()

	base, err := startBaseline(filepath.Join(dir, "baseline.db"))
	if err != nil {
		return err
	}
	defer base.stop()

	type target struct{ name, addr, token string }
	targets := []target{{"provex", node.node.GRPCAddr(), token}, {"baseline", base.addr, ""}}
	type row struct {
		op         string
		conc       int
		round      int
		prov, base result
	}
	var rows []row
	loads := []string{"start " + loadAvg()}
	for _, conc := range []int{1, 64} {
		for _, op := range []string{"Create", "Get"} {
			if *only != "" && *only != fmt.Sprintf("%s/%d", op, conc) {
				continue
			}
			for round := 1; round <= *rounds; round++ {
				order := targets
				if round%2 == 0 {
					order = []target{targets[1], targets[0]}
				}
				rw := row{op: op, conc: conc, round: round}
				for _, t := range order {
					r, err := crudRun(t.addr, t.token, op, conc, round, *duration)
					if err != nil {
						return fmt.Errorf("%s %s c=%d: %w", t.name, op, conc, err)
					}
					fmt.Fprintf(os.Stderr, "round %d: %s %s c=%d: %d ops, %.0f/s, p50 %s ms, p99 %s ms, %d errors (load %s)\n", round, t.name, op, conc, r.ops, r.throughput, ms(r.p50), ms(r.p99), r.errors, loadAvg())
					if t.name == "provex" {
						rw.prov = r
					} else {
						rw.base = r
					}
				}
				rows = append(rows, rw)
			}
			loads = append(loads, fmt.Sprintf("after %s c=%d %s", op, conc, loadAvg()))
		}
	}

	fmt.Printf("provex's store on %s; the baseline on SQLite.\n\n", storeKind(*store))
	fmt.Printf("| operation | concurrency | round | server | ops/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|---|\n")
	for _, rw := range rows {
		for _, s := range []struct {
			name string
			r    result
		}{{"provex", rw.prov}, {"baseline", rw.base}} {
			fmt.Printf("| %s | %d | %d | %s | %.0f | %s | %s | %d |\n", rw.op, rw.conc, rw.round, s.name, s.r.throughput, ms(s.r.p50), ms(s.r.p99), s.r.errors)
		}
	}
	fmt.Printf("\n| operation | concurrency | rounds | provex/baseline throughput, median (range) | provex/baseline p50 latency, median (range) |\n|---|---|---|---|---|\n")
	for i := 0; i < len(rows); {
		j := i
		var thr, lat []float64
		for ; j < len(rows) && rows[j].op == rows[i].op && rows[j].conc == rows[i].conc; j++ {
			p, b := rows[j].prov, rows[j].base
			thr = append(thr, p.throughput/b.throughput)
			lat = append(lat, float64(p.p50)/float64(b.p50))
		}
		fmt.Printf("| %s | %d | %d | %s | %s |\n", rows[i].op, rows[i].conc, j-i, medianRange(thr), medianRange(lat))
		i = j
	}
	fmt.Printf("\nload average (/proc/loadavg): %s\n", strings.Join(loads, "; "))
	return nil
}

// crudRun times one operation at one concurrency on one server.
func crudRun(addr, token, op string, conc, round int, d time.Duration) (result, error) {
	c, conn, err := dial(addr, token)
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	prefix := fmt.Sprintf("%s-c%d-r%d", strings.ToLower(op), conc, round)
	if op == "Create" {
		return measure(conc, d, func(w, i int) error {
			_, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
				Parent: "provinces/cao-bang", AgreementId: fmt.Sprintf("%s-w%d-%d", prefix, w, i), Agreement: benchAgreement(i),
			})
			return err
		}), nil
	}
	// Read, at random, records written for the purpose before the clock
	// starts: a Create run of the same concurrency writes fewer names on a
	// slower server, so reading its names would time NotFound answers.
	names, err := seedGets(c, prefix, 50*conc)
	if err != nil {
		return result{}, fmt.Errorf("seed: %w", err)
	}
	r := measure(conc, d, func(w, i int) error {
		_, err := c.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: names[rand.IntN(len(names))]})
		return err
	})
	if r.errors > 0 {
		return r, fmt.Errorf("%d of its reads failed (the first error is above); every name it reads exists", r.errors)
	}
	return r, nil
}

// medianRange formats ratios as "1.23x (1.10–1.40x)".
func medianRange(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if len(s) == 1 {
		return fmt.Sprintf("%.2fx", m)
	}
	return fmt.Sprintf("%.2fx (%.2f–%.2fx)", m, s[0], s[len(s)-1])
}

// seedGets creates n records for a Get run (untimed, 16 at a time) and
// returns their names.
func seedGets(c twinningv1.TwinningServiceClient, prefix string, n int) ([]string, error) {
	names := make([]string, n)
	errs := make(chan error, 16)
	next := make(chan int)
	for range 16 {
		go func() {
			var first error
			for i := range next {
				a, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
					Parent: "provinces/cao-bang", AgreementId: fmt.Sprintf("%s-%d", prefix, i), Agreement: benchAgreement(i),
				})
				if err != nil {
					first = cmp.Or(first, err)
					continue
				}
				names[i] = a.GetName()
			}
			errs <- first
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	var first error
	for range 16 {
		first = cmp.Or(first, <-errs)
	}
	return names, first
}

// baseline is the bare server: generated stubs, database/sql, nothing else.
type baseline struct {
	twinningv1.UnimplementedTwinningServiceServer
	db, readers        *sql.DB
	insert, insertVal  *sql.Stmt
	get                *sql.Stmt
	grpc               *grpc.Server
	addr               string
	insertColumnValues func(*twinningv1.Agreement) []any
}

func startBaseline(path string) (*baseline, error) {
	// The node's own schema, made by the store (every migration: the
	// record table with all its filter columns and indexes, the elements
	// table), then closed: the baseline writes those two tables only.
	// (Until issue 15 it ran the first migration alone, which lacked the
	// columns later ones added, and the bench failed on them.)
	store, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	// The node's own connection settings, from the store itself.
	db, err := sqlstore.OpenConns(path, false)
	if err != nil {
		return nil, err
	}
	readers, err := sqlstore.OpenConns(path, true)
	if err != nil {
		return nil, err
	}
	readers.SetMaxOpenConns(8)
	b := &baseline{db: db, readers: readers}
	k := resource.Agreements
	var cols []string
	for _, f := range k.Schema.Fields() {
		if !f.Repeated {
			cols = append(cols, f.Column)
		}
	}
	if b.insert, err = db.Prepare(fmt.Sprintf("INSERT INTO agreements (name, province, seq, data, %s) VALUES (?, 'cao-bang', 0, ?%s)",
		strings.Join(cols, ", "), strings.Repeat(", ?", len(cols)))); err != nil {
		return nil, err
	}
	if b.insertVal, err = db.Prepare(fmt.Sprintf("INSERT OR IGNORE INTO record_elements (list, value, record) VALUES (%d, ?, ?)",
		filter.ListID("agreements", "partner_countries"))); err != nil {
		return nil, err
	}
	if b.get, err = readers.Prepare("SELECT data FROM agreements WHERE name = ?"); err != nil {
		return nil, err
	}
	b.insertColumnValues = func(a *twinningv1.Agreement) []any {
		var vals []any
		for _, f := range k.Schema.Fields() {
			if !f.Repeated {
				vals = append(vals, f.Values(a.ProtoReflect())[0])
			}
		}
		return vals
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.addr = lis.Addr().String()
	b.grpc = grpc.NewServer()
	twinningv1.RegisterTwinningServiceServer(b.grpc, b)
	go b.grpc.Serve(lis)
	return b, nil
}

func (b *baseline) stop() {
	b.grpc.Stop()
	b.readers.Close()
	b.db.Close()
}

func (b *baseline) CreateAgreement(ctx context.Context, req *twinningv1.CreateAgreementRequest) (*twinningv1.Agreement, error) {
	a := proto.Clone(req.GetAgreement()).(*twinningv1.Agreement)
	a.Name = "provinces/cao-bang/agreements/" + req.GetAgreementId()
	a.CreateTime = timestamppb.Now()
	a.UpdateTime = a.CreateTime
	data, err := proto.Marshal(a)
	if err != nil {
		return nil, err
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := tx.Stmt(b.insert).Exec(append([]any{a.Name, data}, b.insertColumnValues(a)...)...)
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	for _, c := range a.PartnerCountries {
		if _, err := tx.Stmt(b.insertVal).Exec(c, id); err != nil {
			return nil, err
		}
	}
	return a, tx.Commit()
}

func (b *baseline) GetAgreement(ctx context.Context, req *twinningv1.GetAgreementRequest) (*twinningv1.Agreement, error) {
	var data []byte
	if err := b.get.QueryRowContext(ctx, req.GetName()).Scan(&data); err != nil {
		if err == sql.ErrNoRows {
			return nil, apperr.NotFound("%s not found", req.GetName())
		}
		return nil, err
	}
	a := &twinningv1.Agreement{}
	return a, proto.Unmarshal(data, a)
}
