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
	"github.com/provex/provex/storage/sqlite"
)

func runCRUD(args []string) error {
	fs := flag.NewFlagSet("crud", flag.ExitOnError)
	duration := fs.Duration("duration", 5*time.Second, "length of each timed run")
	only := fs.String("only", "", "run only this operation/concurrency, e.g. Create/64")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.Parse(args)
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
		Member: "cao-bang", DataDir: filepath.Join(dir, "provex"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
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

	targets := []struct{ name, addr, token string }{{"provex", node.node.GRPCAddr(), token}, {"baseline", base.addr, ""}}
	type row struct {
		op, target string
		conc       int
		r          result
	}
	var rows []row
	for _, conc := range []int{1, 64} {
		for _, op := range []string{"Create", "Get"} {
			if *only != "" && *only != fmt.Sprintf("%s/%d", op, conc) {
				continue
			}
			for _, t := range targets {
				c, conn, err := dial(t.addr, t.token)
				if err != nil {
					return err
				}
				prefix := fmt.Sprintf("%s-c%d", strings.ToLower(op), conc)
				var r result
				switch op {
				case "Create":
					r = measure(conc, *duration, func(w, i int) error {
						_, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
							Parent: "provinces/cao-bang", AgreementId: fmt.Sprintf("%s-w%d-%d", prefix, w, i), Agreement: benchAgreement(i),
						})
						return err
					})
				case "Get":
					// Read, at random, records written for the purpose before
					// the clock starts: a Create run of the same concurrency
					// writes fewer names on a slower server, so reading its
					// names would time NotFound answers.
					names, err := seedGets(c, prefix, 50*conc)
					if err != nil {
						conn.Close()
						return fmt.Errorf("%s: seed Get c=%d: %w", t.name, conc, err)
					}
					r = measure(conc, *duration, func(w, i int) error {
						_, err := c.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: names[rand.IntN(len(names))]})
						return err
					})
				}
				conn.Close()
				fmt.Fprintf(os.Stderr, "%s %s c=%d: %d ops, %.0f/s, p50 %s ms, p99 %s ms, %d errors\n", t.name, op, conc, r.ops, r.throughput, ms(r.p50), ms(r.p99), r.errors)
				if op == "Get" && r.errors > 0 {
					return fmt.Errorf("%s Get c=%d: %d of its reads failed (the first error is above); every name it reads exists", t.name, conc, r.errors)
				}
				rows = append(rows, row{op, t.name, conc, r})
			}
		}
	}

	fmt.Printf("| operation | concurrency | server | ops/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|\n")
	for _, rw := range rows {
		fmt.Printf("| %s | %d | %s | %.0f | %s | %s | %d |\n", rw.op, rw.conc, rw.target, rw.r.throughput, ms(rw.r.p50), ms(rw.r.p99), rw.r.errors)
	}
	fmt.Printf("\n| operation | concurrency | provex/baseline throughput | provex/baseline p50 latency |\n|---|---|---|---|\n")
	for i := 0; i+1 < len(rows); i += 2 {
		p, b := rows[i].r, rows[i+1].r
		fmt.Printf("| %s | %d | %.2fx | %.2fx |\n", rows[i].op, rows[i].conc, p.throughput/b.throughput, float64(p.p50)/float64(b.p50))
	}
	return nil
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
	// The node's own connection settings, from the store itself.
	db, err := sqlite.OpenConns(path, false)
	if err != nil {
		return nil, err
	}
	// The record table of the first schema, and the element table the node
	// has used since migration 10 (which replaced record_values).
	for _, m := range []string{"0001_init.sql", "0010_record_elements.sql"} {
		schema, err := os.ReadFile("storage/sqlite/migrations/" + m)
		if err != nil {
			return nil, fmt.Errorf("run from the repository root: %w", err)
		}
		if _, err := db.Exec(string(schema)); err != nil {
			return nil, err
		}
	}
	readers, err := sqlite.OpenConns(path, true)
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
