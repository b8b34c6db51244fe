package main

import (
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

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

var benchCountries = []string{"CN", "LA", "KH", "KR", "JP", "SG", "TW", "US", "DE", "FR", "TH", "RU", "IN", "AU", "GB", "NL", "HK", "MY", "ID", "PH"}

// listAgreement spreads records over kinds, states, countries and 25 years
// of signing dates, deterministically from i.
func listAgreement(i int) *twinningv1.Agreement {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	day := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(9400))
	countries := []string{benchCountries[r.IntN(len(benchCountries))]}
	if r.IntN(4) == 0 {
		countries = append(countries, benchCountries[r.IntN(len(benchCountries))])
	}
	return &twinningv1.Agreement{
		DisplayName:      fmt.Sprintf("Agreement %07d with %s partners", i, countries[0]),
		Kind:             twinningv1.Agreement_Kind(1 + r.IntN(4)),
		State:            twinningv1.Agreement_State(1 + r.IntN(5)),
		PartnerCountries: countries,
		SignedDate:       &typev1.Date{Year: int32(day.Year()), Month: int32(day.Month()), Day: int32(day.Day())},
		SignedPlace:      "Cao Bằng",
		Summary:          "Cooperation in trade, tourism, education and border management between the two localities.",
	}
}

// load fills cao-bang's store with n agreements through the normal write
// path (group commit, change log, sealing), from many goroutines at once.
// confidential is the percentage of them that are not public: national and
// restricted to lang-son in turn, sealed to the members of directory.
func load(path string, n int, keys federation.NodeKeys, directory changelog.Directory, confidential int) error {
	db, err := openSigned(path, "cao-bang", keys, directory)
	if err != nil {
		return err
	}
	start := time.Now()
	err = writeRecords(db, n, 256, func(i int) proto.Message {
		a := listAgreement(i)
		a.Name = fmt.Sprintf("provinces/cao-bang/agreements/a%07d", i)
		switch {
		case i%100 >= confidential:
		case i%2 == 0:
			a.Visibility = typev1.Visibility_VISIBILITY_NATIONAL
		default:
			a.Visibility, a.VisibleTo = typev1.Visibility_VISIBILITY_RESTRICTED, []string{"lang-son"}
		}
		return a
	})
	if err != nil {
		db.Close()
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d records in %s\n", n, time.Since(start).Round(time.Second))
	return db.Close()
}

// openSigned opens member's store at location (a file, or a PostgreSQL
// URL) for a loader, to sign what it writes with keys and seal with them:
// a node opening the store later with other keys (or none) would find its
// own log's entries signed by no key of its, and its log check would mark
// them damaged and refuse to serve them.
func openSigned(location, member string, keys federation.NodeKeys, directory changelog.Directory) (*sqlstore.DB, error) {
	var sealer *changelog.Sealer
	if len(keys.Encryption) > 0 {
		var err error
		if sealer, err = changelog.NewSealer(keys.Encryption...); err != nil {
			return nil, err
		}
	}
	return sqlstore.Open(ctx, location, member, sqlstore.Options{Logger: slog.New(slog.DiscardHandler), Key: keys.Signing,
		Sealer: sealer, Directory: directory})
}

// nodeKeysIn returns the keys of the solo node whose data directory is
// dir (its node.key), making them the first time, for the loaders to sign
// its store with (openSigned) and the node to start with.
func nodeKeysIn(dir string) (federation.NodeKeys, error) {
	path := filepath.Join(dir, server.KeyFile)
	if _, err := os.Stat(path); err == nil {
		return federation.ReadKeyFile(path)
	}
	keys, err := federation.GenerateKeys()
	if err != nil {
		return federation.NodeKeys{}, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return federation.NodeKeys{}, err
	}
	return keys, federation.WriteKeyFile(path, keys)
}

// errUnsignedLoad is a store an earlier run of the bench loaded, before
// its loaders signed what they wrote.
var errUnsignedLoad = errors.New("the store was loaded by an earlier run of the bench without the node's key: its change log carries no signature of the node, which the node's log check finds damaged mid-run")

// keptLoad reports whether marker says member's store at location (of
// the node whose data directory is dir) holds an earlier run's load, and
// its log ends at a checkpoint signed with the node's key: else
// errUnsignedLoad, for the caller to load the store again or refuse it.
func keptLoad(marker, dir, location, member string) (bool, error) {
	if _, err := os.Stat(marker); err != nil {
		return false, nil
	}
	keys, err := federation.ReadKeyFile(filepath.Join(dir, server.KeyFile))
	if err != nil {
		return false, fmt.Errorf("%s: %w", dir, errUnsignedLoad)
	}
	pub := keys.Signing.Public().(ed25519.PublicKey)
	db, err := sqlstore.Open(ctx, location, member, sqlstore.Options{Logger: slog.New(slog.DiscardHandler), PublicKey: pub})
	if err != nil {
		return false, err
	}
	defer db.Close()
	origins, err := db.Origins(ctx)
	if err != nil {
		return false, err
	}
	for _, o := range origins {
		if o.Origin == member && o.Seq > 0 && o.Checkpoint.Seq == o.Seq && o.Checkpoint.Verify(pub) {
			return true, nil
		}
	}
	return false, fmt.Errorf("%s: %w", dir, errUnsignedLoad)
}

// loadAgain says that the store errUnsignedLoad found is loaded again,
// and whether err is that: any other error stays the caller's.
func loadAgain(err error) bool {
	if !errors.Is(err, errUnsignedLoad) {
		return false
	}
	fmt.Fprintf(os.Stderr, "%v; loading it again\n", err)
	return true
}

// writeRecords writes record(0) ... record(n-1), each named already, as
// users' creates would be written (stamped with their create time and
// etag), from workers goroutines at once.
func writeRecords(db *sqlstore.DB, n, workers int, record func(i int) proto.Message) error {
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		failed atomic.Value
		start  = time.Now()
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() != nil {
					return
				}
				m := record(i)
				k, _ := resource.KindOfMessage(m.ProtoReflect().Descriptor())
				_, err := db.Write(ctx, storage.Write{Kind: k, Name: k.Name(m),
					Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
						k.SetCreateTime(m, timestamppb.New(st.Time))
						k.SetUpdateTime(m, timestamppb.New(st.Time))
						k.SetEtag(m, fmt.Sprint(st.Seq))
						return m, nil
					}})
				if err != nil {
					failed.Store(err)
					return
				}
				if i > 0 && i%100000 == 0 {
					fmt.Fprintf(os.Stderr, "wrote %d records (%.0f/s)\n", i, float64(i)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}

func runList(args []string) error {
	fs := flag.NewFlagSet("list", flag.ExitOnError)
	records := fs.Int("records", 1_000_000, "records to load")
	dataDir := fs.String("data", "", "keep the loaded node here and reuse it on later runs (default: a temporary directory)")
	queries := fs.Int("queries", 300, "queries per filter")
	fs.Parse(args)

	dir, cleanup, err := loadedNode(*dataDir, *records)
	if err != nil {
		return err
	}
	defer cleanup()

	node, token, err := benchNode(server.Config{Member: "cao-bang", DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer node.stop()
	c, conn, err := dial(node.node.GRPCAddr(), token)
	if err != nil {
		return err
	}
	defer conn.Close()

	cases := []struct{ filter, orderBy string }{
		{"", ""},
		{"state = IN_FORCE", ""},
		{"kind = MOU AND state = EXPIRED", ""},
		{"signed_date >= 2025-01-01", ""},
		{"kind = MOU AND signed_date >= 2024", ""},
		{"partner_countries:KR", ""},
		{"partner_countries:KR AND state = SIGNED", ""},
		{`display_name = "Agreement 09*"`, ""},
		{"state = TERMINATED OR kind = OTHER", ""},
		{"NOT state = IN_FORCE", ""},
		{"state = IN_FORCE", "signed_date desc"},
		{"", "display_name"},
	}
	fmt.Printf("List page 1 (page_size 50) over %d agreements, %d queries each, concurrency 1:\n\n", *records, *queries)
	fmt.Printf("| filter | order_by | results on page | p50 ms | p99 ms |\n|---|---|---|---|---|\n")
	for _, tc := range cases {
		var got int
		r := measureN(*queries, func() error {
			resp, err := c.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang", Filter: tc.filter, OrderBy: tc.orderBy, PageSize: 50})
			if err == nil {
				got = len(resp.GetAgreements())
			}
			return err
		})
		if r.errors > 0 {
			return fmt.Errorf("filter %q: %d errors", tc.filter, r.errors)
		}
		fmt.Printf("| `%s` | `%s` | %d | %s | %s |\n", tc.filter, tc.orderBy, got, ms(r.p50), ms(r.p99))
	}
	return nil
}

// loadedNode returns a node directory holding records agreements of
// cao-bang: dataDir when given (loaded once, reused by later runs), else a
// temporary directory that cleanup removes.
func loadedNode(dataDir string, records int) (dir string, cleanup func(), err error) {
	dir, cleanup = dataDir, func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "provex-bench-"); err != nil {
			return "", nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	marker, path := filepath.Join(dir, fmt.Sprintf("loaded-%d", records)), filepath.Join(dir, server.DatabaseFile)
	kept, err := keptLoad(marker, dir, path, "cao-bang")
	if err != nil && !loadAgain(err) {
		cleanup()
		return "", nil, err
	}
	if kept {
		return dir, cleanup, nil
	}
	os.Remove(marker)
	os.RemoveAll(path)
	keys, err := nodeKeysIn(dir)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	if err := load(path, records, keys, nil, 0); err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, os.WriteFile(marker, nil, 0o644)
}

// measureN runs op n times in a row.
func measureN(n int, op func() error) result {
	var i atomic.Int64
	return measure(1, time.Hour, func(int, int) error {
		if i.Add(1) > int64(n) {
			return errStop
		}
		return op()
	})
}
