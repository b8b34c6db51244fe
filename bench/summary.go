package main

import (
	"cmp"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// runSummary times national summaries on the ministry's node holding the
// records of every member: 34 provinces' logs applied as pulled entries,
// and the ministry's own written locally.
func runSummary(args []string) error {
	fs := flag.NewFlagSet("summary", flag.ExitOnError)
	records := fs.Int("records", 3_500_000, "records in all, spread evenly over the 35 members")
	dataDir := fs.String("data", "", "keep the loaded node here and reuse it (default: temporary)")
	queries := fs.Int("queries", 20, "queries per summary")
	store := fs.String("store", "", "the ministry's store on this PostgreSQL database (postgres://...; an empty one, loaded once, remembered by -data) instead of SQLite in -data")
	copies := fs.Int("copies", 1, "load records/copies through sync apply, then copy each record copies-1 more times by SQL, without log entries, words or audit rows (needs -data; see multiplyRecords)")
	callTimeout := fs.Duration("call-timeout", 0, "the node's bound on a unary call (default: the node's own, 30s); a longer one lets a summary that takes longer be timed")
	fs.Parse(args)

	dataset := "national"
	if *copies > 1 {
		if *dataDir == "" {
			return fmt.Errorf("-copies needs -data: the copied store is kept there")
		}
		if *records%*copies != 0 {
			return fmt.Errorf("-records %d is not a multiple of -copies %d", *records, *copies)
		}
		dataset = fmt.Sprintf("national-copies%d", *copies)
		if err := loadMultiplied(*dataDir, *store, *records, *copies, dataset); err != nil {
			return err
		}
	}
	conn, stop, err := ministryOver(*dataDir, *store, *records, dataset, nationalRecord, server.Limits{CallTimeout: *callTimeout})
	if err != nil {
		return err
	}
	defer stop()
	c := nationalv1.NewNationalServiceClient(conn)
	if *copies > 1 {
		if err := checkAgainstBefore(c, *dataDir, int64(*copies)); err != nil {
			return err
		}
	}
	fmt.Printf("Summaries on the ministry's node (store on %s) over %d records of 35 members, %d queries each, concurrency 1:\n\n", storeKind(*store), *records, *queries)
	fmt.Printf("| collection | parent | group_by | sum | count_distinct | filter | groups | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, req := range summaryCases {
		var groups int
		r := measureN(*queries, func() error {
			resp, err := c.Summarize(ctx, req)
			groups = len(resp.GetGroups())
			return err
		})
		if r.errors > 0 {
			return fmt.Errorf("summary %v failed", req)
		}
		fmt.Printf("| %s | %s | `%v` | `%v` | `%v` | `%s` | %d | %s | %s |\n", req.GetCollection(), req.GetParent(), req.GetGroupBy(), req.GetSum(), req.GetCountDistinct(), req.GetFilter(), groups, ms(r.p50), ms(r.p99))
	}
	return nil
}

// summaryCases are the national summaries bench summary times.
var summaryCases = []*nationalv1.SummarizeRequest{
	{Collection: "agreements", GroupBy: []string{"province", "signed_date.year"}},
	{Collection: "agreements", GroupBy: []string{"kind", "state"}, Filter: "signed_date >= 2020"},
	{Collection: "delegations", GroupBy: []string{"direction", "start_date.year"}, Sum: []string{"member_count", "foreigner_count"}, Filter: "start_date >= 2020 AND start_date < 2026"},
	{Collection: "partnerships", GroupBy: []string{"partner.country_code"}},
	{Collection: "projects", GroupBy: []string{"province", "kind"}, Sum: []string{"registered_capital", "disbursed_capital"}},
	{Collection: "projects", GroupBy: []string{"investor_country"}, Sum: []string{"registered_capital"}, Filter: "kind = FDI AND state != TERMINATED"},
	{Collection: "projects", GroupBy: []string{"sector", "state"}, Sum: []string{"registered_capital"}, Parent: "provinces/cao-bang"},
	{Collection: "projects", GroupBy: []string{"approved_date.year"}, Sum: []string{"registered_capital"}, Filter: "kind = ODA"},
	{Collection: "trade-reports", GroupBy: []string{"border_gate", "period_start.quarter"}, Sum: []string{"export_value", "import_value", "vehicle_count"}, Filter: "period_start >= 2024"},
	// Repeated fields: rollups of their elements.
	{Collection: "agreements", GroupBy: []string{"partner_countries"}},
	{Collection: "agreements", GroupBy: []string{"province", "partner_countries"}, Filter: "state = SIGNED"},
	{Collection: "delegations", GroupBy: []string{"countries", "direction"}, Sum: []string{"member_count", "foreigner_count"}},
	// Not pre-aggregated: a full-date filter, or a repeated field by year, read every matching record.
	{Collection: "projects", GroupBy: []string{"kind"}, Filter: "approved_date >= 2024-07-15"},
	{Collection: "agreements", GroupBy: []string{"partner_countries", "signed_date.year"}},
	// Distinct counts (issue 13): queries of their own over the matching records, never a rollup.
	{Collection: "projects", GroupBy: []string{"province"}, CountDistinct: []string{"investor_country"}, Filter: "kind = FDI"},
	{Collection: "agreements", GroupBy: []string{"kind"}, CountDistinct: []string{"partner_countries"}},
}

// storeKind names the database of a -store flag.
func storeKind(store string) string {
	if store == "" {
		return "SQLite"
	}
	return "PostgreSQL"
}

// ministryOver starts the ministry's node on dir's federation, loaded once
// by loadFederation with record (dir empty: a temporary directory removed
// by stop), and dials it with an admin token. Its store is store when set
// (a PostgreSQL URL), else provex.db in dir.
func ministryOver(dir, store string, records int, dataset string, record func(member string, memberIndex, i int) proto.Message, limits server.Limits) (*grpc.ClientConn, func(), error) {
	cleanup := func() {}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "provex-bench-"); err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	if err := loadFederation(dir, store, records, dataset, record); err != nil {
		cleanup()
		return nil, nil, err
	}
	node, token, err := benchNode(server.Config{Member: resource.Ministry, DataDir: dir, Store: store, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Limits: limits, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	_, conn, err := dial(node.node.GRPCAddr(), token)
	if err != nil {
		node.stop()
		cleanup()
		return nil, nil, err
	}
	return conn, func() { conn.Close(); node.stop(); cleanup() }, nil
}

// loadFederation fills dir's database once (a marker file remembers it)
// with records spread over the 35 members, as the ministry's node holds
// them after syncing: the provinces' entries applied in batches exactly as
// sync applies them, the ministry's own through local writes.
// dataset names what record generates, so one directory keeps one dataset.
// With store (PostgreSQL) the marker in dir remembers that store's load,
// and the store must be empty to be loaded. The ministry's own entries are
// signed with the key of its node in dir (nodeKeysIn); a store an earlier
// bench loaded without it is loaded again, or refused on PostgreSQL.
func loadFederation(dir, store string, records int, dataset string, record func(member string, memberIndex, i int) proto.Message) error {
	marker := loadedMarker(dir, store, dataset, records)
	location := cmp.Or(store, filepath.Join(dir, server.DatabaseFile))
	kept, err := keptLoad(marker, dir, location, resource.Ministry)
	if store != "" && errors.Is(err, errUnsignedLoad) {
		return fmt.Errorf("%w: give an empty database", err)
	}
	if err != nil && !loadAgain(err) {
		return err
	}
	if kept {
		return nil
	}
	os.Remove(marker)
	if store == "" {
		os.RemoveAll(location)
	}
	keys, err := nodeKeysIn(dir)
	if err != nil {
		return err
	}
	db, err := openSigned(location, resource.Ministry, keys, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if origins, err := db.Origins(ctx); err != nil || len(origins) > 0 {
		return cmp.Or(err, fmt.Errorf("the store holds %d origins' logs but %s does not say it was loaded: give an empty database", len(origins), marker))
	}
	provinces := resource.Provinces()
	perMember := records / (len(provinces) + 1)
	start := time.Now()

	// Entries are built (marshalled, hashed, signed) by two goroutines
	// while the store applies the previous batches.
	type batch struct {
		entries []changelog.Entry
		cp      changelog.Checkpoint
	}
	batches := make(chan batch, 8)
	var build sync.WaitGroup
	var next atomic.Int64
	for range 2 {
		build.Add(1)
		go func() {
			defer build.Done()
			for {
				p := int(next.Add(1)) - 1
				if p >= len(provinces) {
					return
				}
				origin := provinces[p].Slug
				_, key, _ := ed25519.GenerateKey(nil)
				prev := changelog.ZeroHash
				var entries []changelog.Entry
				for i := range perMember {
					m := record(origin, p, i)
					data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
					if err != nil {
						panic(err)
					}
					k, _ := resource.KindOfMessage(m.ProtoReflect().Descriptor())
					e := changelog.Entry{Origin: origin, Seq: uint64(i + 1), HLC: time.Now().UnixNano(), Name: k.Name(m), Data: data, PrevHash: prev}
					e.Hash = changelog.Sum(&e)
					prev = e.Hash
					entries = append(entries, e)
					if len(entries) == 2000 || i == perMember-1 {
						batches <- batch{entries, changelog.SignCheckpoint(key, origin, e.Seq, e.Hash)}
						entries = nil
					}
				}
			}
		}()
	}
	go func() { build.Wait(); close(batches) }()
	applied := 0
	for b := range batches {
		if _, err := db.ApplyRemote(ctx, b.entries, b.cp); err != nil {
			return err
		}
		applied += len(b.entries)
		if applied%200_000 < len(b.entries) {
			fmt.Fprintf(os.Stderr, "applied %d entries (%.0f/s)\n", applied, float64(applied)/time.Since(start).Seconds())
		}
	}
	// The ministry's own records, written as its users would.
	if err := writeRecords(db, perMember, 64, func(i int) proto.Message {
		return record(resource.Ministry, len(provinces), i)
	}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d records in %s\n", perMember*(len(provinces)+1), time.Since(start).Round(time.Second))
	if err := db.Close(); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}

// loadedMarker is the file in dir that says its store (store, else the
// SQLite file in dir) holds records of dataset.
func loadedMarker(dir, store, dataset string, records int) string {
	marker := filepath.Join(dir, fmt.Sprintf("%s-%d", dataset, records))
	if store != "" {
		marker += "-postgres"
	}
	return marker
}

// nationalRecord is record i of a member, deterministic: 40% projects,
// 25% delegations, 20% agreements, 10% monthly trade reports of 6 gates,
// 5% partnerships.
func nationalRecord(member string, memberIndex, i int) proto.Message {
	r := rand.New(rand.NewPCG(uint64(i), uint64(memberIndex)))
	day := func() *typev1.Date {
		d := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(9400))
		return &typev1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
	}
	country := func() string { return benchCountries[r.IntN(len(benchCountries))] }
	parent := "provinces/" + member
	name := func(collection string) string {
		return fmt.Sprintf("%s/%s/%s%07d", parent, collection, collection[:1], i)
	}
	public := typev1.Visibility_VISIBILITY_PUBLIC
	switch b := i % 20; {
	case b < 8:
		kind := investmentv1.Project_Kind(1 + r.IntN(4))
		currency := "USD"
		if kind == investmentv1.Project_KIND_ODA || kind == investmentv1.Project_KIND_CONCESSIONAL_LOAN {
			currency = "VND"
		}
		registered := int64(100_000 + r.IntN(100_000_000))
		return &investmentv1.Project{Name: name("projects"), DisplayName: fmt.Sprintf("Project %d", i), Kind: kind,
			State: investmentv1.Project_State(1 + r.IntN(6)), Sector: investmentv1.Sector(1 + r.IntN(15)),
			Investor: fmt.Sprintf("Investor %d Co., Ltd.", r.IntN(5000)), InvestorCountry: country(),
			RegisteredCapital: &typev1.Money{CurrencyCode: currency, Units: registered},
			DisbursedCapital:  &typev1.Money{CurrencyCode: currency, Units: registered / int64(1+r.IntN(4))},
			ApprovedDate:      day(), Location: "Industrial park " + fmt.Sprint(r.IntN(20)), Visibility: public}
	case b < 13:
		return &twinningv1.Delegation{Name: name("delegations"), DisplayName: fmt.Sprintf("Delegation %d", i),
			Direction: twinningv1.Delegation_Direction(1 + r.IntN(2)), Level: twinningv1.Delegation_Level(1 + r.IntN(4)),
			Leader: "Vice-Chairman", MemberCount: int32(2 + r.IntN(20)), ForeignerCount: int32(r.IntN(30)),
			Countries: []string{country()}, StartDate: day(), Purpose: "Working visit on trade and border cooperation.", Visibility: public}
	case b < 17:
		a := listAgreement(i)
		a.Name, a.Visibility = name("agreements"), public
		return a
	case b < 19:
		month := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, r.IntN(132), 0)
		return &borderv1.TradeReport{Name: name("trade-reports"), BorderGate: fmt.Sprintf("%s/border-gates/g%d", parent, r.IntN(6)),
			PeriodKind:    borderv1.TradeReport_PERIOD_KIND_MONTH,
			PeriodStart:   &typev1.Date{Year: int32(month.Year()), Month: int32(month.Month()), Day: 1},
			PeriodEnd:     &typev1.Date{Year: int32(month.Year()), Month: int32(month.Month()), Day: int32(month.AddDate(0, 1, -1).Day())},
			ExportValue:   &typev1.Money{CurrencyCode: "USD", Units: int64(r.IntN(50_000_000))},
			ImportValue:   &typev1.Money{CurrencyCode: "USD", Units: int64(r.IntN(50_000_000))},
			BudgetRevenue: &typev1.Money{CurrencyCode: "VND", Units: int64(r.IntN(100_000_000_000))},
			VehicleCount:  int64(r.IntN(20_000)), PassengerCount: int64(r.IntN(100_000)), Visibility: public}
	default:
		return &twinningv1.Partnership{Name: name("partnerships"), DisplayName: fmt.Sprintf("Partnership %d", i),
			LocalUnit: &typev1.LocalUnit{Level: typev1.LocalLevel(1 + r.IntN(5)), Name: "Commune " + fmt.Sprint(r.IntN(300))},
			Partner:   &typev1.ForeignParty{Name: "Locality " + fmt.Sprint(r.IntN(1000)), CountryCode: country(), Level: "city"},
			Kind:      twinningv1.Partnership_Kind(1 + r.IntN(3)), State: twinningv1.Partnership_State(1 + r.IntN(4)),
			EstablishedDate: day(), Fields: []string{"trade", "culture"}, Visibility: public}
	}
}
