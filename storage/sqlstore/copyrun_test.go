package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// TestLongRunsHoldWhatShortOnesDo: runs long enough that a store on
// PostgreSQL loads their rows by COPY (change-log entries, record rows with
// ids taken from the sequence, words, repeated-field elements) leave it
// holding what the same runs leave on SQLite, and what the origin holds: a
// second run updating records the first one brought (their names taken,
// so not loaded), sealed records it may and may not open, a repeated field
// holding an element twice; then local writes after them get the next ids.
func TestLongRunsHoldWhatShortOnesDo(t *testing.T) {
	ctx := context.Background()
	open := threeMembers(t)
	agreements, _ := resource.KindOf("agreements")
	origin := open(filepath.Join(t.TempDir(), "nghe-an.db"), "nghe-an")
	name := func(i int) string { return fmt.Sprintf("provinces/nghe-an/agreements/r%04d", i) }
	write := func(i int, edit func(a *twinningv1.Agreement)) {
		t.Helper()
		editAgreement(t, origin, name(i), edit)
	}
	create := func(i int) error {
		a := &twinningv1.Agreement{Name: name(i), Kind: twinningv1.Agreement_KIND_MOU, DisplayName: fmt.Sprintf("lychee export %d", i),
			PartnerCountries: []string{"CN", "CN", "LA"}}
		switch i % 5 {
		case 1: // sealed to the followers: they open it
			a.Visibility, a.VisibleTo = typev1.Visibility_VISIBILITY_RESTRICTED, []string{"cao-bang"}
		case 2: // sealed to lao-cai alone: held, never applied
			a.Visibility, a.VisibleTo = typev1.Visibility_VISIBILITY_RESTRICTED, []string{"lao-cai"}
		}
		_, err := origin.Write(ctx, storage.Write{Kind: agreements, Name: a.Name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return a, nil }})
		return err
	}
	// The first run is longer than a chunk PostgreSQL's store loads while
	// the run goes on, and updates a record of that chunk after it: r0005
	// is created, then updated once the chunk is sent.
	const first, second = 1300, 1500
	createAll := func(from, to int) {
		t.Helper()
		var g errgroup.Group
		g.SetLimit(32) // writes of a group commit share its fsync
		for i := from; i < to; i++ {
			g.Go(func() error { return create(i) })
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	createAll(0, first-1)
	durian := func(a *twinningv1.Agreement) { a.DisplayName, a.PartnerCountries = "durian updated", []string{"TH"} }
	write(5, durian)
	for _, i := range []int{10, 20, 31} {
		write(i, durian)
	}
	createAll(first-1, second)
	entries, err := origin.Changes(ctx, "nghe-an", 0, 10000)
	if err != nil || len(entries) != second+4 {
		t.Fatalf("origin's log: %d entries, %v", len(entries), err)
	}
	checkpoint := func(e changelog.Entry) changelog.Checkpoint {
		return changelog.Checkpoint{Origin: "nghe-an", Seq: e.Seq, Hash: e.Hash, Signature: []byte("unchecked by storage")}
	}
	cn, err := filter.Parse(`partner_countries:"CN"`, agreements.Schema)
	if err != nil {
		t.Fatal(err)
	}
	// What each store answers, to compare SQLite's with PostgreSQL's.
	answers := map[string][]string{}
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			f := open(path, "cao-bang")
			for _, run := range [][]changelog.Entry{entries[:first], entries[first:]} {
				if _, err := f.ApplyRemote(ctx, run, checkpoint(run[len(run)-1])); err != nil {
					t.Fatal(err)
				}
			}
			held, err := f.Changes(ctx, "nghe-an", 0, 10000)
			if err != nil || len(held) != len(entries) {
				t.Fatalf("%d entries held, %v", len(held), err)
			}
			for i := range held {
				h, e := held[i], entries[i]
				if h.Seq != e.Seq || h.Name != e.Name || h.HLC != e.HLC || h.Sealed != e.Sealed || !bytes.Equal(h.Data, e.Data) ||
					!bytes.Equal(h.Hash, e.Hash) || !bytes.Equal(h.PrevHash, e.PrevHash) {
					t.Fatalf("entry %d differs: %+v, want %+v", i, h, e)
				}
			}
			for i := range second {
				want, err := origin.Get(ctx, agreements, name(i))
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.Get(ctx, agreements, name(i))
				if i%5 == 2 {
					if err == nil {
						t.Errorf("%s, sealed to lao-cai, is applied here", name(i))
					}
					continue
				}
				if err != nil || !proto.Equal(got, want) {
					t.Errorf("%s: %v %v, want %v", name(i), got, err, want)
				}
			}
			list := func(q storage.Query) []string {
				t.Helper()
				q.Kind, q.Province, q.Limit = agreements, resource.AllProvinces, 5000
				page, err := f.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, m := range page.Records {
					names = append(names, agreements.Name(m))
				}
				answers[store] = append(answers[store], names...)
				return names
			}
			readable := second * 4 / 5
			for what, n := range map[string]int{
				"lychee":  len(list(storage.Query{Text: "lychee"})),
				"durian":  len(list(storage.Query{Text: "durian"})),
				"CN once": len(list(storage.Query{Filter: cn})),
			} {
				want := map[string]int{"lychee": readable - 4, "durian": 4, "CN once": readable - 4}[what]
				if n != want {
					t.Errorf("%s: %d records, want %d", what, n, want)
				}
			}
			if bad, err := f.CheckRollups(ctx, false); err != nil || bad.Groups > 0 {
				t.Errorf("rollups against a recount: %v %v", bad, err)
			}
			// A record the follower writes itself takes an id after the
			// loaded ones: its create does not collide with them.
			own := "provinces/cao-bang/agreements/after-the-runs"
			if _, err := f.Write(ctx, storage.Write{Kind: agreements, Name: own, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return &twinningv1.Agreement{Name: own, DisplayName: "lychee of its own"}, nil
			}}); err != nil {
				t.Fatalf("write after the runs: %v", err)
			}
			if n := len(list(storage.Query{Text: "lychee"})); n != readable-4+1 {
				t.Errorf("after a write of its own: %d records found, want %d", n, readable-4+1)
			}
		})
	}
	// Without a PostgreSQL server its half was skipped, and -run may pick
	// one half alone: compare only when both answered.
	sq, sqRan := answers["sqlite"]
	pg, pgRan := answers["postgres"]
	if sqRan && pgRan && fmt.Sprint(sq) != fmt.Sprint(pg) {
		t.Errorf("the stores answer differently:\nSQLite     %v\nPostgreSQL %v", sq, pg)
	}
}

// TestRecordOfManyElementsApplies: a member signs, with its own key, a
// record whose repeated field holds 40,000 elements, many twice (the API
// would refuse it; a member's node need not ask the API). Both stores
// apply it through the batched path, each element once, found by filter,
// with rollups equal to a recount.
func TestRecordOfManyElementsApplies(t *testing.T) {
	ctx := context.Background()
	open := threeMembers(t)
	origin := open(filepath.Join(t.TempDir(), "nghe-an.db"), "nghe-an")
	name := "provinces/nghe-an/agreements/many"
	var countries []string
	for i := range 40000 {
		countries = append(countries, fmt.Sprintf("X%05d", i%30000))
	}
	editAgreement(t, origin, name, func(a *twinningv1.Agreement) { a.PartnerCountries = countries })
	entries, err := origin.Changes(ctx, "nghe-an", 0, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("origin's log: %d entries, %v", len(entries), err)
	}
	e := entries[0]
	last, err := filter.Parse(`partner_countries:"X29999"`, resource.Agreements.Schema)
	if err != nil {
		t.Fatal(err)
	}
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			f := open(path, "cao-bang")
			refused, err := f.ApplyRemote(ctx, entries, changelog.Checkpoint{Origin: e.Origin, Seq: e.Seq, Hash: e.Hash, Signature: []byte("unchecked by storage")})
			if err != nil || len(refused) > 0 {
				t.Fatalf("apply: %v, refused %v", err, refused)
			}
			page, err := f.List(ctx, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Filter: last, Limit: 10})
			if err != nil || len(page.Records) != 1 {
				t.Fatalf("found by its last element: %d records, %v", len(page.Records), err)
			}
			if bad, err := f.CheckRollups(ctx, false); err != nil || bad.Groups > 0 {
				t.Errorf("rollups against a recount: %v %v", bad, err)
			}
		})
	}
}
